"""MUC affiliations and roles mapped from MIX-ADMIN, and the XEP-0045
rules for changing them."""

from __future__ import annotations

from dataclasses import replace

import pytest

from mixd import ns as NS
from mixd.codec.stanza import CodecError
from mixd.codec.xep0045_admin import AdminItem, decode_admin_query, invitations, is_invitation
from mixd.errors import StanzaError
from mixd.services.mix.admin import rights
from mixd.services.mix.admin.config import ChannelConfig
from mixd.services.mix.admin.rights import Role
from mixd.services.mix.muc import affiliations as aff
from mixd.services.mix.state import ChannelState
from mixd.storage.contracts.mix import Channel, Participant
from mixd.xml.element import Element
from mixd.xml.fragment import parse_element

SECRET = b"s" * 32


def channel_state(*, members_only: bool = False) -> ChannelState:
    config = {"Administrator": ("wicca@example",)}
    channel = Channel("coven@mix.example", False, 0, ("hag66@example",), SECRET, config=config)
    state = ChannelState.load(channel, [])
    state.config = ChannelConfig.of(channel, rights.default_present(rights.default_rights()))
    state.nodes = rights.present_nodes(state.config, rights.default_rights())
    if members_only:
        state.nodes = state.nodes | {NS.MIX_NODE_ALLOWED}
    state.put(Participant(str(state.jid), "hecate@example", "p1", "hecate", frozenset(), 0))
    return state


def test_affiliations_follow_the_mix_lists() -> None:
    state = channel_state()
    state.banned = {"lear@example", "evil.example"}
    assert aff.affiliation_of(state, "hag66@example") == aff.OWNER
    assert aff.affiliation_of(state, "wicca@example") == aff.ADMIN
    assert aff.affiliation_of(state, "hecate@example") == aff.MEMBER
    assert aff.affiliation_of(state, "lear@example") == aff.OUTCAST
    assert aff.affiliation_of(state, "anyone@evil.example") == aff.OUTCAST
    assert aff.affiliation_of(state, "grey@example") == aff.NONE
    assert aff.role_of(aff.OWNER) == aff.role_of(aff.ADMIN) == aff.MODERATOR
    assert aff.role_of(aff.MEMBER) == aff.role_of(aff.NONE) == aff.PARTICIPANT


def test_members_are_the_allowed_node_while_present() -> None:
    open_channel = channel_state()
    open_channel.allowed = {"grey@example"}  # ignored: no allowed node
    assert aff.affiliation_of(open_channel, "grey@example") == aff.NONE
    closed = channel_state(members_only=True)
    closed.allowed = {"grey@example", "example.org"}
    assert aff.affiliation_of(closed, "grey@example") == aff.MEMBER
    assert aff.affiliation_of(closed, "x@example.org") == aff.MEMBER
    members = [m.jid for m in aff.affiliation_list(closed, aff.MEMBER)]
    assert members == ["example.org", "grey@example", "hecate@example"]
    assert [m.nick for m in aff.affiliation_list(closed, aff.MEMBER)][-1] == "hecate"
    assert [m.jid for m in aff.affiliation_list(closed, aff.OWNER)] == ["hag66@example"]
    assert [m.jid for m in aff.affiliation_list(closed, aff.ADMIN)] == ["wicca@example"]


def test_who_changes_affiliations() -> None:
    owners = ("hag66@example",)

    def check(actor_role: Role, target: str, current: str, new: str) -> str | None:
        try:
            aff.check_affiliation_change("wicca@example", actor_role, target, current, new, owners)
        except StanzaError as exc:
            return str(exc.condition)
        return None

    assert check(Role.PARTICIPANT, "x@example", aff.NONE, aff.OUTCAST) == "forbidden"
    assert check(Role.ADMIN, "x@example", aff.MEMBER, aff.OUTCAST) is None
    assert check(Role.ADMIN, "hag66@example", aff.OWNER, aff.OUTCAST) == "not-allowed"
    assert check(Role.ADMIN, "x@example", aff.NONE, aff.ADMIN) == "forbidden"
    assert check(Role.ADMIN, "wicca@example", aff.ADMIN, aff.OUTCAST) == "not-allowed"
    assert check(Role.OWNER, "wicca@example", aff.ADMIN, aff.OUTCAST) == "conflict"  # oneself
    assert check(Role.OWNER, "hag66@example", aff.OWNER, aff.MEMBER) == "conflict"  # last owner
    assert check(Role.OWNER, "x@example", aff.NONE, aff.OWNER) is None


def test_kicks_and_roles() -> None:
    with pytest.raises(StanzaError) as err:
        aff.check_kick("a@x", Role.PARTICIPANT, "b@x", Role.PARTICIPANT)
    assert err.value.condition == "forbidden"
    with pytest.raises(StanzaError) as err:
        aff.check_kick("a@x", Role.ADMIN, "b@x", Role.OWNER)
    assert err.value.condition == "not-allowed"
    with pytest.raises(StanzaError) as err:
        aff.check_kick("a@x", Role.OWNER, "a@x", Role.OWNER)
    assert err.value.condition == "conflict"
    aff.check_kick("a@x", Role.ADMIN, "b@x", Role.ADMIN)
    aff.check_role_change(Role.ADMIN, Role.PARTICIPANT, aff.PARTICIPANT)  # already so
    aff.check_role_change(Role.ADMIN, Role.OWNER, aff.MODERATOR)
    for target, role in ((Role.PARTICIPANT, "moderator"), (Role.OWNER, "participant"),
                         (Role.PARTICIPANT, "visitor")):  # fmt: skip
        with pytest.raises(StanzaError) as err:
            aff.check_role_change(Role.OWNER, target, role)
        assert err.value.condition == "not-allowed"


def test_admin_query_codec() -> None:
    query = parse_element(
        f"<query xmlns='{NS.MUC_ADMIN}'><item nick='pistol' role='none'>"
        "<reason>Avaunt</reason></item><item affiliation='outcast' jid='a@b'/></query>"
    )
    items = decode_admin_query(query)
    assert items == (
        AdminItem(role="none", nick="pistol", reason="Avaunt"),
        AdminItem(affiliation="outcast", jid="a@b"),
    )
    for bad in ("<item role='king'/>", "<item affiliation='friend'/>", ""):
        with pytest.raises(CodecError):
            decode_admin_query(parse_element(f"<query xmlns='{NS.MUC_ADMIN}'>{bad}</query>"))
    assert replace(items[0], reason=None).encode().get("role") == "none"


def test_invitations_codec() -> None:
    message = parse_element(
        f"<message xmlns='jabber:client'><x xmlns='{NS.MUC_USER}'>"
        "<invite to='hecate@example'><reason>Come</reason></invite>"
        "<decline to='crone@example'/></x></message>"
    )
    invite, decline = invitations(message)
    assert (invite.kind, invite.to, invite.reason) == ("invite", "hecate@example", "Come")
    assert (decline.kind, decline.to) == ("decline", "crone@example")


def test_room_invitations_are_recognised() -> None:
    def message(kind: str, payload: str) -> Element:
        return parse_element(
            f"<message xmlns='jabber:client' type='{kind}'><x xmlns='{NS.MUC_USER}'>"
            f"{payload}</x></message>"
        )

    assert is_invitation(message("normal", "<invite from='a@b'/>"))
    assert is_invitation(message("normal", "<decline from='a@b'/>"))
    assert not is_invitation(message("groupchat", "<invite from='a@b'/>"))
    assert not is_invitation(message("normal", "<status code='104'/>"))
