"""RELIABILITY B9: secrets are compared in constant time. Every comparison
of a client's proof with a stored secret goes through hmac.compare_digest:
PLAIN (mixd.credentials) and the SCRAM proof and server signature (scramp).
A spy records the comparisons; a plain `==` would leave it empty."""

from __future__ import annotations

import hmac
from collections.abc import Iterator

import pytest
import scramp.core
from scramp import ScramClient

from mixd import credentials
from mixd.credentials import make_credentials, verify_password
from mixd.stream.sasl import SaslFailure, ScramExchange

PASSWORD = "correct horse"
REAL_COMPARE = hmac.compare_digest


@pytest.fixture
def compared(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[bytes, bytes]]]:
    seen: list[tuple[bytes, bytes]] = []

    def spy(a: bytes, b: bytes) -> bool:
        seen.append((a, b))
        return REAL_COMPARE(a, b)

    monkeypatch.setattr(credentials.hmac, "compare_digest", spy)
    monkeypatch.setattr(scramp.core, "compare_digest", spy)
    yield seen


@pytest.mark.parametrize("password", [PASSWORD, "wrong"])
def test_plain_compares_the_stored_key_in_constant_time(
    compared: list[tuple[bytes, bytes]], password: str
) -> None:
    for credential in make_credentials(PASSWORD, 4096):
        compared.clear()
        assert verify_password(credential, password) is (password == PASSWORD)
        assert [b for _, b in compared] == [credential.stored_key]


@pytest.mark.parametrize("password", [PASSWORD, "wrong"])
def test_scram_proof_is_compared_in_constant_time(
    compared: list[tuple[bytes, bytes]], password: str
) -> None:
    for credential in make_credentials(PASSWORD, 4096):
        client = ScramClient([credential.mechanism], "alice", password)
        server = ScramExchange(credential.mechanism, client.get_client_first(), credential, ())
        client.set_server_first(server.server_first())
        compared.clear()
        if password == PASSWORD:
            server.server_final(client.get_client_final())
        else:
            with pytest.raises(SaslFailure):
                server.server_final(client.get_client_final())
        # The key recovered from the client's proof against the stored key.
        assert [b for _, b in compared if b == credential.stored_key] == [credential.stored_key]


@pytest.mark.parametrize("forged", [False, True])
def test_invitation_tokens_are_compared_in_constant_time(
    monkeypatch: pytest.MonkeyPatch, forged: bool
) -> None:
    from mixd.codec.xep0407_misc import Invitation
    from mixd.services.mix.misc import invitations

    seen: list[tuple[str, str]] = []

    def spy(a: str, b: str) -> bool:
        seen.append((a, b))
        return REAL_COMPARE(a, b)

    monkeypatch.setattr(invitations.hmac, "compare_digest", spy)
    key = invitations.invitation_key(b"k" * 32)
    token = invitations.make_token(key, "c@mix.example", "a@example", "b@example", 100)
    if forged:
        token = token[:-1] + ("A" if token[-1] != "A" else "B")
    invitation = Invitation("a@example", "b@example", "c@mix.example", token)
    assert invitations.token_valid(key, invitation, 0) is not forged
    assert [b for _, b in seen] == [token.partition(".")[2]]
