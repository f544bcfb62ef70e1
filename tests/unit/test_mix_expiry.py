"""The end-of-life sweep (XEP-0406), driven directly with an injected clock."""

from __future__ import annotations

from mixd.core.server import Server, Stores
from mixd.core.sessions import SessionManager
from mixd.jid import JID
from mixd.services.mix.admin.expiry import Expiry
from mixd.services.mix.module import build_service
from mixd.services.mix.service import Settings
from mixd.storage.contracts.mix import Channel
from mixd.storage.memory.accounts import MemoryAccountStore
from mixd.storage.memory.archive import MemoryArchiveStore
from mixd.storage.memory.blocklist import MemoryBlocklistStore
from mixd.storage.memory.mix import MemoryMixStore
from mixd.storage.memory.mix_misc import MemoryMixMiscStore
from mixd.storage.memory.offline import MemoryOfflineStore
from mixd.storage.memory.pep import MemoryPepStore
from mixd.storage.memory.roster import MemoryRosterStore

SERVICE = "mix.example.org"


def server() -> Server:
    mix = MemoryMixStore()
    stores = Stores(
        accounts=MemoryAccountStore(),
        archive=MemoryArchiveStore(),
        mix=mix,
        mix_misc=MemoryMixMiscStore(mix),
        offline=MemoryOfflineStore(),
        pep=MemoryPepStore(),
        roster=MemoryRosterStore(),
        blocklist=MemoryBlocklistStore(),
    )
    return Server(frozenset({"example.org"}), SessionManager(10, "replace"), stores)


def channel(name: str, end_of_life: int | None) -> Channel:
    return Channel(f"{name}@{SERVICE}", False, 1, ("a@example.org",), b"k", end_of_life=end_of_life)


async def test_sweep_destroys_exactly_the_channels_past_their_end_of_life() -> None:
    srv = server()
    service = build_service(srv, SERVICE, Settings())
    for name, eol in (("old", 1_000), ("now", 2_000), ("later", 3_000), ("forever", None)):
        await srv.stores.mix.create_channel(channel(name, eol))
    now = [999]
    expiry = Expiry(service, 60.0, clock=lambda: now[0])
    assert await expiry.sweep() == []
    now[0] = 2_000
    assert await expiry.sweep() == [f"old@{SERVICE}", f"now@{SERVICE}"]
    assert await srv.stores.mix.get_channel(f"old@{SERVICE}") is None
    assert await service.channel(JID.parse(f"now@{SERVICE}")) is None
    left = await srv.stores.mix.list_channels(SERVICE, None, 10)
    assert [c.jid for c in left] == [f"forever@{SERVICE}", f"later@{SERVICE}"]
    now[0] = 10**18
    assert await expiry.sweep() == [f"later@{SERVICE}"]


async def test_sweep_leaves_channels_another_node_owns() -> None:
    srv = server()
    service = build_service(srv, SERVICE, Settings())
    for name in ("mine", "theirs"):
        await srv.stores.mix.create_channel(channel(name, 1))
    service.owns = lambda jid: jid.startswith("mine@")
    expiry = Expiry(service, 60.0, clock=lambda: 10)
    assert await expiry.sweep() == [f"mine@{SERVICE}"]
    assert await expiry.sweep() == []
    assert await srv.stores.mix.get_channel(f"theirs@{SERVICE}") is not None
