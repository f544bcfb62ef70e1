"""Password preparation and SCRAM credentials, checked against scramp's own client."""

from __future__ import annotations

import pytest
from scramp import ScramClient, ScramException, ScramMechanism

from mixd.credentials import (
    SCRAM_MECHANISMS,
    ScramCredential,
    make_credentials,
    prepare_password,
    scram_auth_info,
    verify_password,
)

PASSWORD = "correct horse battery staple"
ITERATIONS = 4096


@pytest.fixture(scope="module")
def creds() -> tuple[ScramCredential, ...]:
    return make_credentials(PASSWORD, ITERATIONS)


def test_one_credential_per_mechanism(creds: tuple[ScramCredential, ...]) -> None:
    assert SCRAM_MECHANISMS == ("SCRAM-SHA-256", "SCRAM-SHA-1")
    assert tuple(c.mechanism for c in creds) == SCRAM_MECHANISMS
    assert all(c.iterations == ITERATIONS for c in creds)
    assert all(len(c.salt) == 16 for c in creds)
    assert [len(c.stored_key) for c in creds] == [32, 20]  # SHA-256, SHA-1 digests


def test_iterations_asked_are_used() -> None:
    (sha256, _) = make_credentials(PASSWORD, 5000)
    assert sha256.iterations == 5000
    assert verify_password(sha256, PASSWORD)


def test_too_few_iterations_rejected() -> None:
    with pytest.raises(ValueError, match="at least 4096"):
        make_credentials(PASSWORD, 1000)


@pytest.mark.parametrize("index", [0, 1])
def test_verify_password(creds: tuple[ScramCredential, ...], index: int) -> None:
    assert verify_password(creds[index], PASSWORD) is True
    assert verify_password(creds[index], PASSWORD + "!") is False
    assert verify_password(creds[index], PASSWORD.upper()) is False
    assert verify_password(creds[index], "") is False
    assert verify_password(creds[index], "bad\x00char") is False


def test_verify_uses_opaque_string_preparation() -> None:
    # OpaqueString maps non-ASCII spaces to U+0020 (RFC 8265 section 4.2.1).
    (sha256, _) = make_credentials("a b", ITERATIONS)
    assert verify_password(sha256, "a\u00a0b")


def test_unknown_mechanism_is_an_error(creds: tuple[ScramCredential, ...]) -> None:
    bogus = ScramCredential("SCRAM-MD5", creds[0].salt, b"x", b"y", ITERATIONS)
    with pytest.raises(ValueError, match="unsupported"):
        verify_password(bogus, PASSWORD)


def test_salt_and_keys_differ_between_calls(creds: tuple[ScramCredential, ...]) -> None:
    again = make_credentials(PASSWORD, ITERATIONS)
    for first, second in zip(creds, again, strict=True):
        assert first.salt != second.salt
        assert first.stored_key != second.stored_key
    assert creds[0].salt != creds[1].salt


def test_stored_bytes_never_contain_password(creds: tuple[ScramCredential, ...]) -> None:
    secret = PASSWORD.encode()
    for c in creds:
        for field in (c.salt, c.stored_key, c.server_key, c.mechanism.encode()):
            assert secret not in field
        assert PASSWORD not in repr(c)


@pytest.mark.parametrize(
    ("password", "reason"),
    [("", "must not be empty"), ("abc\x00", "position 3"), ("\ue000x", "position 0")],
)
def test_prepare_password_rejects_invalid(password: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason) as info:
        prepare_password(password)
    # The secret never travels in the error or its chain.
    assert info.value.__context__ is None and info.value.__cause__ is None


def test_prepare_password_maps_spaces() -> None:
    assert prepare_password("p\u00a0w") == "p w"
    assert prepare_password("  keep  ") == "  keep  "


def test_invalid_password_error_does_not_echo_it() -> None:
    secret = "hunter2\x07"
    with pytest.raises(ValueError) as info:
        make_credentials(secret, ITERATIONS)
    assert "hunter2" not in str(info.value)


def scram_exchange(credential: ScramCredential, password: str) -> None:
    """Run a full exchange; raises ScramException if authentication fails."""
    server = ScramMechanism(credential.mechanism).make_server(
        lambda username: scram_auth_info(credential) if username == "alice" else None
    )
    client = ScramClient([credential.mechanism], "alice", password)
    server.set_client_first(client.get_client_first())
    client.set_server_first(server.get_server_first())
    server.set_client_final(client.get_client_final())
    client.set_server_final(server.get_server_final())  # client checks server signature


@pytest.mark.parametrize("index", [0, 1])
def test_scram_exchange_succeeds(creds: tuple[ScramCredential, ...], index: int) -> None:
    scram_exchange(creds[index], PASSWORD)


def test_scram_exchange_fails_with_wrong_password(creds: tuple[ScramCredential, ...]) -> None:
    assert creds[0].mechanism == "SCRAM-SHA-256"
    with pytest.raises(ScramException, match="client keys don't match"):
        scram_exchange(creds[0], "wrong password")
