"""SASL message parsing, the decoy credential and the SCRAM exchange (RELIABILITY B3, B5)."""

from __future__ import annotations

import pytest
from scramp import ScramClient

from mixd.credentials import make_credentials
from mixd.stream.sasl import (
    SaslCondition,
    SaslFailure,
    SaslIdentity,
    ScramExchange,
    decoy_credential,
    downgrade_protection_hash,
    parse_plain,
    parse_scram_client_first,
)

PASSWORD = "correct horse battery staple"
SECRET = b"s" * 32


# -- SCRAM client-first -------------------------------------------------------------


@pytest.mark.parametrize(
    ("message", "identity"),
    [
        ("n,,n=alice,r=abc", SaslIdentity("alice", None)),
        ("y,,n=alice,r=abc", SaslIdentity("alice", None)),
        ("p=tls-exporter,,n=alice,r=abc", SaslIdentity("alice", None)),
        ("n,a=alice@localhost,n=alice,r=abc", SaslIdentity("alice", "alice@localhost")),
        ("n,a=bob@localhost,n=alice,r=abc", SaslIdentity("alice", "bob@localhost")),
        ("n,,n=Alice,r=abc,e=ext", SaslIdentity("Alice", None)),  # not normalised here
    ],
)
def test_client_first(message: str, identity: SaslIdentity) -> None:
    assert parse_scram_client_first(message) == identity


def test_client_first_comma_escape() -> None:
    assert parse_scram_client_first("n,,n=a=2Cb,r=x").authcid == "a,b"
    assert parse_scram_client_first("n,a=x=2Cy,n=a,r=x").authzid == "x,y"


def test_client_first_equals_escape() -> None:
    # RFC 5802 5.1: '=' in a name is sent as '=3D'; '=' is allowed in a localpart.
    assert parse_scram_client_first("n,,n=a=3Db,r=x").authcid == "a=b"


def test_client_first_both_escapes() -> None:
    assert parse_scram_client_first("n,,n=a=2Cb=3Dc,r=x").authcid == "a,b=c"


def test_client_first_escapes_are_decoded_once() -> None:
    # '=3D2C' is an escaped '=' followed by a literal "2C", not a comma.
    assert parse_scram_client_first("n,,n=x=3D2C,r=x").authcid == "x=2C"


@pytest.mark.parametrize(
    "message",
    [
        "",
        "n",
        "n,,",
        "n,,n=alice",  # no nonce part
        "x,,n=alice,r=abc",  # bad GS2 flag
        "n,b=bob,n=alice,r=abc",  # authzid without a=
        "n,,m=ext,n=alice,r=abc",  # mandatory extension
        "n,,u=alice,r=abc",
        "n,,n=,r=abc",  # empty username
        "n,,n=a=2Xb,r=abc",  # bad escape
        "n,,n=a=,r=abc",
        "n,,n==,r=abc",
        "n,a=b=zz,n=alice,r=abc",
    ],
)
def test_malformed_client_first(message: str) -> None:
    with pytest.raises(SaslFailure) as info:
        parse_scram_client_first(message)
    assert info.value.condition is SaslCondition.MALFORMED_REQUEST


# -- PLAIN ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("message", "identity", "password"),
    [
        (b"\x00alice\x00secret", SaslIdentity("alice", None), "secret"),
        (b"alice@localhost\x00alice\x00pw", SaslIdentity("alice", "alice@localhost"), "pw"),
        (b"bob@localhost\x00alice\x00pw", SaslIdentity("alice", "bob@localhost"), "pw"),
        (
            "\x00j\u00fcrgen\x00p\u00e4ss w".encode(),
            SaslIdentity("j\u00fcrgen", None),
            "p\u00e4ss w",
        ),
    ],
)
def test_plain(message: bytes, identity: SaslIdentity, password: str) -> None:
    assert parse_plain(message) == (identity, password)


@pytest.mark.parametrize(
    "message",
    [
        b"",
        b"alice",
        b"alice\x00secret",  # only two fields
        b"\x00\x00secret",  # no authcid
        b"\x00alice\x00",  # no password
        b"a\x00b\x00c\x00d",  # four fields
        b"\x00al\xffice\x00secret",  # not UTF-8
    ],
)
def test_malformed_plain(message: bytes) -> None:
    with pytest.raises(SaslFailure) as info:
        parse_plain(message)
    assert info.value.condition is SaslCondition.MALFORMED_REQUEST


def test_plain_failure_never_carries_the_password() -> None:
    with pytest.raises(SaslFailure) as info:
        parse_plain(b"\x00\x00hunter2")
    assert "hunter2" not in str(info.value)
    assert "hunter2" not in repr(info.value.args)


# -- decoy credential -----------------------------------------------------------------


@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-256", "SCRAM-SHA-1"])
def test_decoy_is_stable_per_username(mechanism: str) -> None:
    assert decoy_credential(mechanism, SECRET, "nobody") == decoy_credential(
        mechanism, SECRET, "nobody"
    )


@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-256", "SCRAM-SHA-1"])
def test_decoy_differs_between_usernames_and_secrets(mechanism: str) -> None:
    a = decoy_credential(mechanism, SECRET, "nobody")
    b = decoy_credential(mechanism, SECRET, "somebody")
    c = decoy_credential(mechanism, b"t" * 32, "nobody")
    assert len({a.salt, b.salt, c.salt}) == 3
    assert len({a.stored_key, b.stored_key, c.stored_key}) == 3


def test_decoy_looks_like_a_real_credential() -> None:
    real = {c.mechanism: c for c in make_credentials(PASSWORD, 4096)}
    for mechanism, cred in real.items():
        decoy = decoy_credential(mechanism, SECRET, "nobody")
        assert decoy.mechanism == mechanism
        assert len(decoy.salt) == len(cred.salt)
        assert len(decoy.stored_key) == len(cred.stored_key)
        assert len(decoy.server_key) == len(cred.server_key)
        assert decoy.iterations == cred.iterations


# -- the SCRAM exchange ---------------------------------------------------------------

ADVERTISED = ("SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN")


def exchange(
    mechanism: str, password: str, credential_password: str = PASSWORD
) -> tuple[ScramClient, ScramExchange]:
    cred = next(c for c in make_credentials(credential_password, 4096) if c.mechanism == mechanism)
    client = ScramClient([mechanism], "alice", password)
    server = ScramExchange(mechanism, client.get_client_first(), cred, ADVERTISED)
    client.set_server_first(server.server_first())
    return client, server


@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-256", "SCRAM-SHA-1"])
def test_scram_exchange(mechanism: str) -> None:
    client, server = exchange(mechanism, PASSWORD)
    final = server.server_final(client.get_client_final())
    client.set_server_final(final)  # raises unless the server signature is right


@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-256", "SCRAM-SHA-1"])
def test_scram_wrong_password(mechanism: str) -> None:
    client, server = exchange(mechanism, "wrong")
    with pytest.raises(SaslFailure) as info:
        server.server_final(client.get_client_final())
    assert info.value.condition is SaslCondition.NOT_AUTHORIZED


def test_scram_decoy_never_succeeds() -> None:
    client = ScramClient(["SCRAM-SHA-256"], "nobody", PASSWORD)
    decoy = decoy_credential("SCRAM-SHA-256", SECRET, "nobody")
    server = ScramExchange("SCRAM-SHA-256", client.get_client_first(), decoy, ADVERTISED)
    client.set_server_first(server.server_first())
    with pytest.raises(SaslFailure) as info:
        server.server_final(client.get_client_final())
    assert info.value.condition is SaslCondition.NOT_AUTHORIZED


def test_scram_replayed_client_final() -> None:
    client, server = exchange("SCRAM-SHA-256", PASSWORD)
    final = client.get_client_final()
    server.server_final(final)
    # The same client-final against a new exchange (new server nonce) fails...
    cred = make_credentials(PASSWORD, 4096)[0]
    replay = ScramExchange(
        "SCRAM-SHA-256", "n,,n=alice,r=" + final.split("r=")[1][:24], cred, ADVERTISED
    )
    replay.server_first()
    with pytest.raises(SaslFailure) as info:
        replay.server_final(final)
    assert info.value.condition is SaslCondition.NOT_AUTHORIZED
    # ...and so does a second use on the finished one.
    with pytest.raises(SaslFailure):
        server.server_final(final)


def test_scram_wrong_nonce() -> None:
    client, server = exchange("SCRAM-SHA-256", PASSWORD)
    final = client.get_client_final()
    nonce = final.split(",r=")[1].split(",")[0]
    tampered = final.replace(nonce, nonce[:-4] + "AAAA")
    with pytest.raises(SaslFailure) as info:
        server.server_final(tampered)
    assert info.value.condition is SaslCondition.NOT_AUTHORIZED


@pytest.mark.parametrize(
    "final",
    ["", "garbage", "c=biws,r=x", "c=biws,r=x,p=!!notbase64!!", "c=eSws,r=x,p=AAAA"],
)
def test_scram_garbage_client_final(final: str) -> None:
    _, server = exchange("SCRAM-SHA-256", PASSWORD)
    with pytest.raises(SaslFailure) as info:
        server.server_final(final)
    assert info.value.condition is SaslCondition.NOT_AUTHORIZED


def test_scram_channel_binding_flag_y_is_fine_without_plus() -> None:
    cred = make_credentials(PASSWORD, 4096)[0]
    server = ScramExchange("SCRAM-SHA-256", "y,,n=alice,r=abcdefgh", cred, ADVERTISED)
    assert server.server_first().startswith("r=abcdefgh")


@pytest.mark.parametrize(
    "client_first",
    ["p=tls-exporter,,n=alice,r=abcdefgh", "n,,n=alice", "q,,n=alice,r=abc", "n,,n=alice,r="],
)
def test_scram_bad_client_first(client_first: str) -> None:
    cred = make_credentials(PASSWORD, 4096)[0]
    with pytest.raises(SaslFailure) as info:
        ScramExchange("SCRAM-SHA-256", client_first, cred, ADVERTISED).server_first()
    assert info.value.condition is SaslCondition.MALFORMED_REQUEST


# -- XEP-0474 downgrade protection -------------------------------------------------


def test_downgrade_hash_is_over_the_sorted_list() -> None:
    # Known answers, computed once from the XEP-0474 algorithm by hand:
    # SHA-256 / SHA-1 of b"PLAIN\x1eSCRAM-SHA-1\x1eSCRAM-SHA-256".
    assert downgrade_protection_hash("SCRAM-SHA-256", ADVERTISED) == (
        "J++Diu+JubnE6dLVvZjjI5KHnheOLsUSQWiw/prdbAA="
    )
    assert downgrade_protection_hash("SCRAM-SHA-1", ADVERTISED) == "uYJXMaNHTMxSJNZes6xsLrR+vu0="
    assert downgrade_protection_hash("SCRAM-SHA-1", ("SCRAM-SHA-1",)) != (
        downgrade_protection_hash("SCRAM-SHA-1", ("SCRAM-SHA-1", "PLAIN"))
    )


@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-256", "SCRAM-SHA-1"])
def test_server_first_carries_the_hash(mechanism: str) -> None:
    cred = next(c for c in make_credentials(PASSWORD, 4096) if c.mechanism == mechanism)
    client = ScramClient([mechanism], "alice", PASSWORD)
    first = ScramExchange(mechanism, client.get_client_first(), cred, ADVERTISED).server_first()
    assert first.endswith(",h=" + downgrade_protection_hash(mechanism, ADVERTISED))


def test_hash_is_signed_by_both_sides() -> None:
    """A man in the middle who strips "h" from the server-first message makes
    the client sign a different AuthMessage: the proof fails."""
    cred = make_credentials(PASSWORD, 4096)[0]
    client = ScramClient(["SCRAM-SHA-256"], "alice", PASSWORD)
    server = ScramExchange("SCRAM-SHA-256", client.get_client_first(), cred, ADVERTISED)
    stripped = server.server_first().rsplit(",h=", 1)[0]
    client.set_server_first(stripped)
    with pytest.raises(SaslFailure) as info:
        server.server_final(client.get_client_final())
    assert info.value.condition is SaslCondition.NOT_AUTHORIZED
