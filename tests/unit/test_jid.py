"""Tests for mixd.jid: RFC 7622 section 3.5 examples plus normalisation and API behaviour."""

from __future__ import annotations

import dataclasses

import pytest

from mixd import jid as jid_mod
from mixd.jid import (
    JID,
    JIDError,
    normalize_domain,
    normalize_localpart,
    normalize_resource,
)

# (input, expected local, domain, resource) -- RFC 7622 section 3.5 "Examples of Valid JIDs".
VALID = [
    ("juliet@example.com", "juliet", "example.com", None),
    ("juliet@example.com/foo", "juliet", "example.com", "foo"),
    ("juliet@example.com/foo bar", "juliet", "example.com", "foo bar"),
    ("juliet@example.com/foo@bar", "juliet", "example.com", "foo@bar"),
    ("juliet@example.com/foo@bar/baz", "juliet", "example.com", "foo@bar/baz"),
    ("foo\\20bar@example.com", "foo\\20bar", "example.com", None),
    ("fussball@example.com", "fussball", "example.com", None),
    ("fu\u00dfball@example.com", "fu\u00dfball", "example.com", None),
    ("\u03c0@example.com", "\u03c0", "example.com", None),
    ("\u03a3@example.com/foo", "\u03c3", "example.com", "foo"),
    ("\u03c3@example.com/foo", "\u03c3", "example.com", "foo"),
    ("\u03c2@example.com/foo", "\u03c2", "example.com", "foo"),
    ("king@example.com/\u265a", "king", "example.com", "\u265a"),
    ("example.com", None, "example.com", None),
    ("example.com/foobar", None, "example.com", "foobar"),
    ("a.example.com/b@example.net", None, "a.example.com", "b@example.net"),
    ("user@192.0.2.1/r", "user", "192.0.2.1", "r"),
    ("user@[2001:DB8:0::1]", "user", "[2001:db8::1]", None),
    ("[::1]/x", None, "[::1]", "x"),
]


@pytest.mark.parametrize(("text", "local", "domain", "resource"), VALID)
def test_valid_examples(text: str, local: str | None, domain: str, resource: str | None) -> None:
    j = JID.parse(text)
    assert (j.local, j.domain, j.resource) == (local, domain, resource)


INVALID = [
    ('"juliet"@example.com', "forbidden character"),
    ("foo bar@example.com", "localpart"),
    ("henry\u2163@example.com", "localpart"),  # compatibility char, RFC 7622 3.5
    ("\u265a@example.com", "localpart"),  # symbol not allowed in localpart
    ("@example.com", "empty localpart"),
    ("user@", "empty domainpart"),
    ("juliet@", "empty domainpart"),
    ("/foobar", "empty domainpart"),
    ("example.com/", "empty resourcepart"),
    ("", "empty JID"),
    ("user@exa mple.com", "forbidden character"),
    ("user@[::1", "unterminated IPv6"),
    ("user@[not:an:address]", "invalid IPv6"),
    ("user@[fe80::1%eth0]", "zone id"),
    ("user@999.1.1.1", "invalid IPv4"),
    ("user@a..b", "empty label"),
    ("user@.example.com", "empty label"),
    ("user@.", "empty domainpart"),
    ("a@b@example.com", "forbidden character '@' in domainpart"),
    ("user@exa<mple.com", "forbidden character"),
    ("user@exa\u00a0mple.com", "forbidden character"),  # non-ASCII whitespace
    ("user@exa\x07mple.com", "forbidden character"),
    ("user@xn--zzzzzzzzz.com", "invalid A-label"),
    ("user@example.com/bad\x07", "resourcepart"),
    ("a&b@example.com", "forbidden character '&'"),
    ("\uff20x@example.com", "forbidden character '@' in localpart"),  # fullwidth '@' maps to '@'
]


@pytest.mark.parametrize(("text", "message"), INVALID)
def test_invalid_examples(text: str, message: str) -> None:
    with pytest.raises(JIDError, match=message):
        JID.parse(text)


def test_jiderror_is_valueerror() -> None:
    assert issubclass(JIDError, ValueError)


# 1023 UTF-8 bytes is the maximum; two-byte characters check that bytes, not chars, count.
MAX_OK = "\u03c0" * 511 + "a"


@pytest.mark.parametrize(
    ("part", "max_ok", "too_long"),
    [
        ("local", MAX_OK, MAX_OK + "a"),
        ("domain", "a" * 1019 + ".com", "a" * 1020 + ".com"),
        ("resource", MAX_OK, MAX_OK + "a"),
    ],
)
def test_part_length_limit(part: str, max_ok: str, too_long: str) -> None:
    parts = {"local": "u", "domain": "example.com", "resource": "r"}
    j = JID.make(**{**parts, part: max_ok})
    assert len(str(getattr(j, part)).encode()) == 1023
    with pytest.raises(JIDError, match=f"{part}part too long"):
        JID.make(**{**parts, part: too_long})


def test_localpart_1024_bytes_rejected() -> None:
    with pytest.raises(JIDError, match="localpart too long"):
        JID.parse("a" * 1024 + "@example.com")
    assert JID.parse("a" * 1023 + "@example.com").local == "a" * 1023


def test_huge_input_rejected_before_precis(monkeypatch: pytest.MonkeyPatch) -> None:
    class Boom:
        def enforce(self, value: str) -> str:
            raise AssertionError("PRECIS must not run on oversized input")

    monkeypatch.setattr(jid_mod, "_USERNAME", Boom())
    with pytest.raises(JIDError, match="localpart too long"):
        jid_mod.normalize_localpart("x" * 1_000_000)


def test_case_folding() -> None:
    j = JID.parse("JuLiEt@Example.COM/Balcony")
    assert str(j) == "juliet@example.com/Balcony"  # resource case is preserved
    assert j == JID.parse("juliet@example.com/Balcony")
    assert j != JID.parse("juliet@example.com/balcony")
    assert hash(j) == hash(JID.parse("juliet@example.com/Balcony"))


def test_width_mapping_of_localpart() -> None:
    assert JID.parse("\uff2auliet@example.com").local == "juliet"


def test_domain_normalisation() -> None:
    assert normalize_domain("EXAMPLE.COM.") == "example.com"
    assert JID.parse("user@Example.COM.").domain == "example.com"
    assert normalize_domain("example\u3002com") == "example.com"
    assert normalize_domain("B\u00dcCHER.example") == "b\u00fccher.example"
    # NFC: decomposed u + combining diaeresis composes to U+00FC.
    assert normalize_domain("bu\u0308cher.example") == "b\u00fccher.example"
    # A-labels decode to U-labels so both spellings are the same JID.
    assert normalize_domain("XN--BCHER-KVA.example") == "b\u00fccher.example"
    assert JID.parse("a@xn--bcher-kva.example") == JID.parse("a@B\u00fccher.example")


def test_normalize_functions() -> None:
    assert normalize_localpart("Romeo") == "romeo"
    assert normalize_resource("Foo\u00a0Bar") == "Foo Bar"  # OpaqueString maps NBSP to space
    for fn in (normalize_localpart, normalize_resource, normalize_domain):
        with pytest.raises(JIDError, match="empty"):
            fn("")
    with pytest.raises(JIDError, match="forbidden character ':'"):
        normalize_localpart("a:b")


def test_str_round_trip() -> None:
    for text, *_ in VALID:
        j = JID.parse(text)
        assert JID.parse(str(j)) == j
    assert str(JID.parse("example.com")) == "example.com"
    assert str(JID.parse("a@b.example/c/d")) == "a@b.example/c/d"
    assert repr(JID.parse("a@b.example")) == "JID('a@b.example')"


def test_bare_and_with_resource() -> None:
    full = JID.parse("juliet@example.com/balcony")
    bare = full.bare
    assert str(bare) == "juliet@example.com"
    assert bare.is_bare and not full.is_bare
    assert bare.bare is bare
    again = bare.with_resource("balcony")
    assert again == full
    assert str(bare.with_resource("Orchard")) == "juliet@example.com/Orchard"
    with pytest.raises(JIDError, match="empty resourcepart"):
        bare.with_resource("")
    with pytest.raises(JIDError, match="resourcepart"):
        bare.with_resource("a\x00b")


def test_is_domain() -> None:
    assert JID.parse("example.com").is_domain
    assert not JID.parse("example.com/r").is_domain
    assert not JID.parse("u@example.com").is_domain


def test_make_normalises_like_parse() -> None:
    assert JID.make("Juliet", "EXAMPLE.com.", "Res") == JID.parse("juliet@example.com/Res")
    assert JID.make(None, "Example.com") == JID.parse("example.com")
    with pytest.raises(JIDError, match="forbidden character '@' in localpart"):
        JID.make("a@b", "example.com")
    with pytest.raises(JIDError, match="empty localpart"):
        JID.make("", "example.com")


def test_frozen() -> None:
    j = JID.parse("a@b.example")
    with pytest.raises(dataclasses.FrozenInstanceError):
        j.local = "c"  # type: ignore[misc]
    assert not hasattr(j, "__dict__")  # slots


def test_parse_is_cached_and_bounded() -> None:
    info = jid_mod._parse.cache_info()
    assert info.maxsize == 65536
    text = "cache-probe@example.com/xyz"
    first = JID.parse(text)
    hits = jid_mod._parse.cache_info().hits
    assert JID.parse(text) is first
    assert jid_mod._parse.cache_info().hits == hits + 1
