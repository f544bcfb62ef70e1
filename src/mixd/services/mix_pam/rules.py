"""MIX-PAM decisions as plain functions (no I/O): the participant id in a
join answer, the roster item of a joined channel, which channels get the
user's presence."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from mixd.jid import JID
from mixd.storage.contracts.roster import RosterItem, Subscription
from mixd.xml.element import Element


def participant_id(join: Element, channel: JID) -> str | None:
    """The stable participant id a channel's join result gives: `id`
    (XEP-0369), or the `jid='ID#channel'` form of XEP-0405's example that
    some servers send instead."""
    pid = join.get("id")
    if pid:
        return pid
    prefix, sep, rest = (join.get("jid") or "").partition("#")
    if sep and prefix and rest == str(channel):
        return prefix
    return None


def joined(old: RosterItem | None, channel: JID, name: str | None, pid: str) -> RosterItem:
    """The roster item of a channel the user joined (XEP-0405 5.1.9): a
    MIX item with subscription both; a name or groups the user gave it stay."""
    if old is None:
        return RosterItem(
            str(channel), name, subscription=Subscription.BOTH, mix_participant_id=pid
        )
    return replace(
        old,
        name=old.name or name,
        subscription=Subscription.BOTH,
        ask=False,
        pending_in=False,
        approved=False,
        request=None,
        listed=True,
        mix_participant_id=pid,
    )


def left(old: RosterItem | None) -> RosterItem | None:
    """The user left the channel: its item goes (anything else stays)."""
    return None if old is not None and old.is_mix_channel else old


def joined_channels(items: Iterable[RosterItem]) -> list[JID]:
    """The channels a roster says the user participates in."""
    return [JID.parse(item.jid) for item in items if item.is_mix_channel]


def shares_presence(item: RosterItem | None) -> bool:
    """A channel item that gets the user's MIX clients' presence (XEP-0405
    5.1.9: subscription from or both; none when the user does not share)."""
    return (
        item is not None
        and item.is_mix_channel
        and item.subscription in (Subscription.FROM, Subscription.BOTH)
    )


def presence_channels(items: Iterable[RosterItem]) -> list[JID]:
    """The channels a roster says get the user's MIX clients' presence."""
    return [JID.parse(item.jid) for item in items if shares_presence(item)]
