"""MIX-ADMIN's pure parts: configuration defaults and validation, roles and rights."""

from __future__ import annotations

import pytest

from mixd.codec.xep0004_forms import DataForm, Field
from mixd.errors import StanzaError
from mixd.services.mix.admin import rights
from mixd.services.mix.admin.config import ChannelConfig, changed
from mixd.services.mix.admin.rights import Role
from mixd.storage.contracts.mix import Channel

ADMIN = "urn:xmpp:mix:admin:0"
NODES = ("allowed", "banned", "information", "participants")


def config(**changes: tuple[str, ...]) -> ChannelConfig:
    channel = Channel("c@mix.example", False, 5, ("o@example",), b"k", config=dict(changes))
    return ChannelConfig.of(channel, ("banned", "information", "participants"))


def submit(*fields: Field) -> DataForm:
    return DataForm.with_type("submit", ADMIN, fields)


def test_defaults_and_stored_values() -> None:
    c = config()
    assert c.owners == ("o@example",) and c.administrators == ()
    assert c.one("Configuration Node Access") == "owners"
    assert c.nodes_present == {"banned", "information", "participants"}
    assert c.flag("Private Messages") and not c.flag("Open Presence")
    assert c.end_of_life is None and c.updated == 0
    assert config(**{"Open Presence": ("true",)}).flag("Open Presence")


def test_changed_keeps_other_fields_and_records_the_author() -> None:
    before = config(**{"Administrator": ("a@example",)})
    after = changed(
        before,
        submit(
            Field("End of Life", ("2030-01-31T13:00:00+01:00",)),
            Field("No Private Messages", ("1",)),
            Field("Last Change Made By", ("forged@example",)),
        ),
        NODES,
        "o@example",
        77,
    )
    assert after.administrators == ("a@example",)
    assert after.one("End of Life") == "2030-01-31T12:00:00Z"
    assert after.end_of_life is not None
    assert not after.flag("Private Messages")
    assert after.get("Last Change Made By") == ("o@example",) and after.updated == 77
    assert "End of Life" not in after.stored() and "Owner" not in after.stored()


@pytest.mark.parametrize(
    ("field", "name"),
    [
        (Field("Owner", ()), "Owner"),
        (Field("Administrator", ("a@example", "not a jid@@")), "Administrator"),
        (Field("Nodes Present", ("presence",)), "Nodes Present"),
        (Field("Banned Node Subscription", ("anyone",)), "Banned Node Subscription"),
        (Field("Mandatory Nicks", ("yes",)), "Mandatory Nicks"),
        (Field("End of Life", ("2030-02-30T00:00:00Z",)), "End of Life"),
        (Field("Messages Node Subscription", ("allowed", "anyone")), "Messages Node Subscription"),
    ],
)
def test_bad_values_name_the_field(field: Field, name: str) -> None:
    with pytest.raises(StanzaError) as err:
        changed(config(), submit(field), NODES, "o@example", 1)
    assert err.value.text is not None and err.value.text.startswith(f"{name}:")


def test_form_type_must_be_mix_admin() -> None:
    with pytest.raises(StanzaError) as err:
        changed(config(), DataForm.with_type("submit", "urn:xmpp:mix:core:1", ()), NODES, "o", 1)
    assert err.value.text is not None and err.value.text.startswith("FORM_TYPE:")


@pytest.mark.parametrize(
    ("level", "lowest"),
    [("anyone", Role.ANYONE), ("allowed", Role.ALLOWED), ("participants", Role.PARTICIPANT),
     ("admins", Role.ADMIN), ("owners", Role.OWNER), ("nobody", None)],
)  # fmt: skip
def test_rights_are_hierarchical(level: str, lowest: Role | None) -> None:
    for role in Role:
        assert rights.permits(level, role) == (lowest is not None and role >= lowest)


def test_present_nodes_follow_the_configuration() -> None:
    table = rights.default_rights()
    assert rights.node_options(table) == (*NODES, "presence")
    assert rights.default_present(table) == ("banned", "information", "participants", "presence")
    present = rights.present_nodes(config(**{"Nodes Present": ("allowed",)}), table)
    assert present == {
        "urn:xmpp:mix:nodes:messages",
        "urn:xmpp:mix:nodes:config",
        "urn:xmpp:mix:nodes:allowed",
    }
