"""XEP-0404 MIX-ANON 0.3.1 on the channel: user preferences, the JID Map
node, and what a change of the channel's JID visibility does.

- **User preferences** (`<user-preference xmlns='urn:xmpp:mix:anon:0'/>`):
  get returns the form (options, and the requester's current values if a
  participant); set (participants) takes a submitted form, changes the
  fields it carries and returns every value. A join may carry the same form
  (`<x/>` in the join); its result then carries every value. A preference
  the channel's mode cannot honour ('never' in a JID Visible channel,
  'always' in a JID Hidden one) is refused with `not-allowed`.
- **JID Map** (`urn:xmpp:mix:nodes:jidmap`): one item per participant, id
  the participant id, `<participant xmlns='urn:xmpp:mix:anon:0'><jid/>`;
  present in every channel, read and subscribed to by administrators (and
  owners) only, never written through PubSub. Subscribers who may read it
  hear of joins and leaves.
- **Mode changes**: when the configuration's "JID Visibility" changes,
  participants whose preference conflicts with the new mode are removed
  (as a ban removes: told first, then gone, then the participants node's
  subscribers told).
"""

from __future__ import annotations

from dataclasses import replace

from mixd import ns as NS
from mixd.codec.xep0004_forms import DataForm
from mixd.errors import StanzaError, StanzaErrorCondition
from mixd.jid import JID
from mixd.services.mix import anon, anon_rules
from mixd.services.mix.admin.config import ChannelConfig
from mixd.services.mix.admin.rights import NodeRights, fixed
from mixd.services.mix.notify import notify_participant, notify_retract, send_event
from mixd.services.mix.service import MixService, NodeOps, Request, guarded
from mixd.services.mix.state import ChannelState
from mixd.storage.contracts.mix import Participant
from mixd.xml.element import Element

# Administrators read it; nobody writes it through PubSub; always present.
JIDMAP = NodeRights(fixed("admins"), fixed("nobody"))


def carried_form(payload: Element) -> DataForm | None:
    """The MIX-ANON preference form a request (join, user-preference) carries."""
    for x in payload.find_all(NS.DATA_FORMS, "x"):
        form = DataForm.decode(x)
        if form.form_type in (None, NS.MIX_ANON):
            return form
    return None


def check_conflict(state: ChannelState, preferences: anon_rules.Preferences) -> None:
    mode = anon.mode(state)
    preference = anon_rules.visibility(preferences)
    if anon_rules.conflicts(mode, preference):
        what = "shows" if mode is anon_rules.Mode.VISIBLE else "hides"
        raise StanzaError(
            StanzaErrorCondition.NOT_ALLOWED,
            f"JID Visibility: this channel {what} every participant's JID; "
            f"{preference!r} cannot be honoured",
        )


def join_preferences(
    state: ChannelState, payload: Element, old: Participant | None
) -> tuple[anon_rules.Preferences, bool]:
    """The preferences a join leaves the participant with, and whether the
    join carried a form (then its result lists every value)."""
    current = old.preferences if old is not None else ()
    form = carried_form(payload)
    if form is None:
        return current, False
    required = state.presence_policy.required
    preferences = anon_rules.submitted(current, form, presence_required=required)
    check_conflict(state, preferences)
    return preferences, True


def preferences_result(preferences: anon_rules.Preferences) -> Element:
    return anon_rules.form(preferences, "result").encode()


def jidmap_item(participant: Participant, ns: str = NS.PUBSUB) -> Element:
    item = Element(ns, "item", {"id": participant.id})
    item.add(NS.MIX_ANON, "participant").add_text_child(NS.MIX_ANON, "jid", participant.jid)
    return item


class Anonymity:
    def __init__(self, service: MixService) -> None:
        self.service = service
        service.rights[NS.MIX_NODE_JIDMAP] = JIDMAP
        service.node_ops[NS.MIX_NODE_JIDMAP] = NodeOps(self.jidmap_items)
        service.on_iq("channel", NS.MIX_ANON, "user-preference", "get", self.get_preferences)
        service.on_iq("channel", NS.MIX_ANON, "user-preference", "set", self.set_preferences)
        service.participant_listeners.append(self.participant_changed)
        service.config_listeners.append(self.config_changed)
        service.features.add(NS.MIX_ANON)

    # -- user preferences ------------------------------------------------------------

    async def get_preferences(self, request: Request) -> Element | None:
        participant = request.state().participants.get(str(request.sender.bare))
        stored = participant.preferences if participant is not None else ()
        result = Element(NS.MIX_ANON, "user-preference")
        result.append(anon_rules.form(stored, "form").encode())
        return result

    async def set_preferences(self, request: Request) -> Element | None:
        state, user = request.state(), str(request.sender.bare)
        participant = state.participants.get(user)
        if participant is None:
            raise StanzaError(StanzaErrorCondition.ITEM_NOT_FOUND, "not a participant")
        form = carried_form(request.payload)
        if form is None:
            raise StanzaError(StanzaErrorCondition.BAD_REQUEST, "submit the preference form")
        required = state.presence_policy.required
        preferences = anon_rules.submitted(
            participant.preferences, form, presence_required=required
        )
        check_conflict(state, preferences)
        if preferences != participant.preferences:
            was_shown = anon.shown_to_all(state, user)
            if not await guarded(
                self.service.store.set_preferences(str(state.jid), user, preferences)
            ):
                raise StanzaError(StanzaErrorCondition.ITEM_NOT_FOUND, "not a participant")
            changed = replace(participant, preferences=preferences)
            await self.service.set_participant(state, user, changed)
            if anon.shown_to_all(state, user) != was_shown:
                # The participants node shows the JID differently now.
                await notify_participant(self.service, state, changed)
        result = Element(NS.MIX_ANON, "user-preference")
        result.append(preferences_result(preferences))
        return result

    # -- the JID Map node ------------------------------------------------------------

    def jidmap_items(self, request: Request) -> list[Element]:
        return [jidmap_item(p) for p in request.state().participants.values()]

    def _jidmap_readers(self, state: ChannelState) -> list[str]:
        return [
            p.jid
            for p in state.subscribers(NS.MIX_NODE_JIDMAP)
            if self.service.may(state, JID.parse(p.jid), NS.MIX_NODE_JIDMAP, "read")
        ]

    async def participant_changed(
        self, state: ChannelState, user: str, old: Participant | None, new: Participant | None
    ) -> None:
        if (old is None) == (new is None):
            return  # not a join or a leave: the map is unchanged
        readers = self._jidmap_readers(state)
        if not readers:
            return
        if new is not None:
            items = Element(NS.PUBSUB_EVENT, "items", {"node": NS.MIX_NODE_JIDMAP})
            items.append(jidmap_item(new, NS.PUBSUB_EVENT))
            await send_event(self.service, state, NS.MIX_NODE_JIDMAP, items, readers)
        elif old is not None:
            await notify_retract(self.service, state, NS.MIX_NODE_JIDMAP, old.id, readers)

    # -- mode changes ----------------------------------------------------------------

    async def config_changed(self, state: ChannelState, before: ChannelConfig) -> None:
        field = anon_rules.MODE_FIELD
        mode = anon.mode(state)
        if anon_rules.mode_of(before.one(field)) is mode:
            return
        conflicting = [
            p
            for p in state.participants.values()
            if anon_rules.conflicts(mode, anon_rules.visibility(p.preferences))
        ]
        for participant in conflicting:
            await self._remove(state, participant)

    async def _remove(self, state: ChannelState, participant: Participant) -> None:
        """Remove a participant whose preference the channel no longer honours."""
        service, user = self.service, participant.jid
        removed = await guarded(service.store.leave(str(state.jid), user))
        if removed is None:
            return
        state.leaving.add(user)
        try:
            # The user learns it first, while the user's server still takes
            # notifications from this channel for the user.
            await notify_retract(service, state, NS.MIX_NODE_PARTICIPANTS, participant.id, [user])
            await service.set_participant(state, user, None)
        finally:
            state.leaving.discard(user)
        to = [p.jid for p in state.subscribers(NS.MIX_NODE_PARTICIPANTS)]
        await notify_retract(service, state, NS.MIX_NODE_PARTICIPANTS, participant.id, to)
