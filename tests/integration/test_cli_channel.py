"""`mixd channel list|create|destroy|info` against the database, server stopped."""

from __future__ import annotations

from pathlib import Path

import pytest

from mixd.cli import main


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "mixd.toml"
    path.write_text('[server]\nhosts = ["localhost"]\ndata_dir = "data"\n')
    return path


def mixd(config: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["--config", str(config), *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_channel_create_list_info_destroy(
    config_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert mixd(config_file, capsys, "channel", "list") == (0, "", "")
    code, out, _ = mixd(
        config_file,
        capsys,
        "channel",
        "create",
        "Coven@mix.localhost",
        "--owner",
        "hag66@localhost",
    )
    assert (code, out) == (0, "created coven@mix.localhost\n")
    code, _, err = mixd(
        config_file, capsys, "channel", "create", "coven@mix.localhost", "--owner", "x@localhost"
    )
    assert code == 1 and "already exists" in err
    assert mixd(config_file, capsys, "channel", "list")[1] == "coven@mix.localhost\n"
    code, out, _ = mixd(config_file, capsys, "channel", "info", "coven@mix.localhost")
    assert code == 0
    assert "owners: hag66@localhost" in out
    assert "end of life: never" in out
    assert "nodes present: banned information participants presence" in out
    assert "participants: 0" in out
    code, out, _ = mixd(config_file, capsys, "channel", "destroy", "coven@mix.localhost")
    assert (code, out) == (0, "destroyed coven@mix.localhost\n")
    assert mixd(config_file, capsys, "channel", "list")[1] == ""
    code, _, err = mixd(config_file, capsys, "channel", "info", "coven@mix.localhost")
    assert code == 1 and "no channel" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("create", "coven@elsewhere.example", "--owner", "a@localhost"), "not name@service"),
        (("create", "coven@mix.localhost", "--owner", "a@localhost/r"), "bare JID"),
        (("destroy", "mix.localhost"), "not name@service"),
    ],
)
def test_channel_command_errors(
    config_file: Path, capsys: pytest.CaptureFixture[str], args: tuple[str, ...], message: str
) -> None:
    code, _, err = mixd(config_file, capsys, "channel", *args)
    assert code == 1 and message in err
