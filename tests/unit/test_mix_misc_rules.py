"""MIX-MISC pure parts: invitation tokens, tombstones, avatar payload checks."""

from __future__ import annotations

import pytest

from mixd import ns as NS
from mixd.codec.xep0407_misc import Invitation, is_tombstone, tombstone
from mixd.errors import StanzaError
from mixd.services.mix.misc.avatar import check_metadata, image_bytes
from mixd.services.mix.misc.invitations import invitation_key, make_token, token_valid
from mixd.xml.fragment import parse_element
from mixd.xml.serializer import serialize

CHANNEL, HAG, CAT = "coven@mix.example.org", "hag@example.org", "cat@example.org"


def test_tokens_bind_channel_users_key_and_time() -> None:
    key = invitation_key(b"s" * 32)
    token = make_token(key, CHANNEL, HAG, CAT, 1000)
    good = Invitation(HAG, CAT, CHANNEL, token)
    assert token_valid(key, good, 999) and token_valid(key, good, 1000)
    assert not token_valid(key, good, 1001)  # expired
    assert not token_valid(invitation_key(b"t" * 32), good, 0)  # another channel's secret
    for changed in (
        Invitation(HAG, "dog@example.org", CHANNEL, token),
        Invitation("dog@example.org", CAT, CHANNEL, token),
        Invitation(HAG, CAT, "other@mix.example.org", token),
        Invitation(HAG, CAT, CHANNEL, token.replace("1000.", "9999.")),
        Invitation(HAG, CAT, CHANNEL, "garbage"),
        Invitation(HAG, CAT, CHANNEL, "1000."),
    ):
        assert not token_valid(key, changed, 0)
    assert invitation_key(b"s" * 32) != b"s" * 32


def test_tombstone_keeps_attribution_only() -> None:
    stored = parse_element(
        "<message xmlns='jabber:client' from='coven@mix.example.org' type='groupchat'>"
        "<body>secret</body><x xmlns='urn:example'/>"
        "<mix xmlns='urn:xmpp:mix:core:1'><nick>hag</nick><jid>hag@example.org</jid></mix>"
        "</message>"
    )
    grave = tombstone(stored, HAG, 1_700_000_000_000_000)
    text = serialize(grave)
    assert "secret" not in text and "urn:example" not in text
    assert grave.attrs == stored.attrs and is_tombstone(grave)
    mark = grave.find(NS.MIX_MISC, "retracted")
    assert mark is not None and mark.attrs == {"by": HAG, "time": "2023-11-14T22:13:20Z"}
    assert grave.find(NS.MIX_CORE, "mix") is not None


def test_avatar_payload_checks() -> None:
    data = parse_element("<data xmlns='urn:xmpp:avatar:data'>aGVsbG8=</data>")
    assert image_bytes(data) == b"hello"
    for bad in ("<data xmlns='urn:xmpp:avatar:data'>!!</data>", "<data xmlns='urn:x'>aGk=</data>"):
        with pytest.raises(StanzaError):
            image_bytes(parse_element(bad))
    meta = parse_element(
        "<metadata xmlns='urn:xmpp:avatar:metadata'><info id='ab' type='image/png' bytes='5'/>"
        "</metadata>"
    )
    assert check_metadata(meta) == "ab"
    assert check_metadata(parse_element("<metadata xmlns='urn:xmpp:avatar:metadata'/>")) is None
    with pytest.raises(StanzaError):
        check_metadata(
            parse_element("<metadata xmlns='urn:xmpp:avatar:metadata'><info id='ab'/></metadata>")
        )
