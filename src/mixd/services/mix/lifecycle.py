"""Creating and destroying channels (XEP-0369 section 7.3)."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from mixd import ns as NS
from mixd.codec.xep0082_datetime import now_micros
from mixd.codec.xep0369_mix import NAMESPACES, Create, Destroy
from mixd.core.auth_limits import FailureLimiter
from mixd.errors import StanzaError, StanzaErrorCondition
from mixd.jid import JID
from mixd.services.mix import rules
from mixd.services.mix.admin.rights import Role
from mixd.services.mix.notify import notify_retract_all
from mixd.services.mix.service import MixService, Request, guarded
from mixd.services.mix.state import ChannelState
from mixd.storage.contracts.archive import ArchiveStore
from mixd.storage.contracts.mix import Channel, ChannelExists, MixStore
from mixd.xml.element import Element

ADHOC_ATTEMPTS = 5
# RELIABILITY D8: one account cannot flood the service with channels.
CREATIONS_PER_HOUR = 30


class Lifecycle:
    def __init__(self, service: MixService) -> None:
        self.service = service
        # Counts creations per account; locked once the hourly quota is used.
        self.creations = FailureLimiter(CREATIONS_PER_HOUR, 3600.0, 3600.0)
        for ns in NAMESPACES:
            service.on_iq("service", ns, "create", "set", self.create)
            service.on_iq("service", ns, "destroy", "set", self.destroy)

    def may_create(self, requester: JID) -> bool:
        s = self.service.settings
        return rules.may_create(s.create_policy, requester, self.service.server.hosts, s.admins)

    async def create(self, request: Request) -> Element | None:
        create = Create.decode(request.payload)
        if not self.may_create(request.sender):
            raise StanzaError(StanzaErrorCondition.FORBIDDEN, "you may not create channels here")
        name = await self.create_channel(create.channel, str(request.sender.bare))
        return Create(name, create.ns).encode()

    async def create_channel(self, requested: str | None, owner: str) -> str:
        """Create a named channel, or an ad hoc one when `requested` is None;
        returns the name. The caller has checked the creator's rights."""
        if self.creations.locked(owner):
            raise StanzaError(
                StanzaErrorCondition.RESOURCE_CONSTRAINT, "too many channels created, try later"
            )
        if requested is not None:
            name = rules.channel_name(requested)
            await self._store(name, owner, adhoc=False)
            return name
        for _ in range(ADHOC_ATTEMPTS):
            name = rules.adhoc_name()
            try:
                await self._store(name, owner, adhoc=True)
            except StanzaError as exc:
                if exc.condition is StanzaErrorCondition.CONFLICT:
                    continue
                raise
            return name
        raise StanzaError(StanzaErrorCondition.INTERNAL_SERVER_ERROR, "no free channel name")

    async def _store(self, name: str, owner: str, *, adhoc: bool) -> None:
        jid = JID(name, self.service.domain, None)
        channel = Channel(str(jid), adhoc, now_micros(), (owner,), rules.new_secret())
        try:
            await guarded(self.service.store.create_channel(channel))
        except ChannelExists:
            raise StanzaError(StanzaErrorCondition.CONFLICT, "channel exists") from None
        self.creations.failure(owner)  # one more channel from this account
        self.service.add_channel(ChannelState.load(channel, []))

    async def destroy(self, request: Request) -> Element | None:
        destroy = Destroy.decode(request.payload)
        jid = JID(rules.channel_name(destroy.channel), self.service.domain, None)
        state = await self.service.channel(jid)
        if state is None:
            raise StanzaError(StanzaErrorCondition.ITEM_NOT_FOUND, "no such channel")
        if self.service.role(state, request.sender) < Role.OWNER:
            raise StanzaError(StanzaErrorCondition.FORBIDDEN, "only an owner may destroy")
        await destroy_channel(self.service, state)
        return None


async def destroy_channel(service: MixService, state: ChannelState) -> None:
    """Remove a channel: its record, participants, lists and (per
    `mix.destroy_archive`) archive; each participant sees its item retracted."""
    local = service.local
    await guarded(
        erase_channel(
            service.store,
            service.archive,
            str(state.jid),
            state.participants,
            local.is_local if local is not None else lambda _user: False,
            delete_archive=service.settings.destroy_archive == "delete",
        )
    )
    # Participants learn they are gone: every participant item is retracted,
    # while the service still lists them (their servers accept a channel's
    # notifications only for its participants).
    await notify_retract_all(service, state)
    for listener in service.destroy_listeners:
        await listener(state)
    service.forget_channel(state.jid)


async def erase_channel(
    store: MixStore,
    archive: ArchiveStore,
    jid: str,
    participants: Iterable[str],
    is_local: Callable[[str], bool],
    *,
    delete_archive: bool,
) -> None:
    """The storage side of destroying a channel, shared with `mixd channel
    destroy` (which runs without the server)."""
    await store.delete_channel(jid)
    for user in participants:
        if is_local(user):  # participants keep the history they were shown
            await archive.unfollow(user, jid)
    if delete_archive:
        await archive.delete_owner(jid)


def disco_features(lifecycle: Lifecycle, requester: JID) -> tuple[str, ...]:
    features = [NS.MIX_CORE, NS.MIX_SEARCHABLE]
    if lifecycle.may_create(requester):
        features.append(NS.MIX_CREATE_CHANNEL)
    return tuple(features)
