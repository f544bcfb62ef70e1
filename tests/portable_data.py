"""A small installation with something in every store (for the export and
import tests), and a snapshot of every store's content to compare two
installations by."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from mixd.core.server import Stores
from mixd.credentials import make_credentials
from mixd.portable.export import Exporter
from mixd.storage.contracts.archive import (
    ArchiveQuery,
    DefaultMode,
    Direction,
    MessageRecord,
    NewEntry,
    Prefs,
)
from mixd.storage.contracts.dump import DumpStore
from mixd.storage.contracts.mix import Channel, ChannelInfo, Participant
from mixd.storage.contracts.mix_misc import NodeItem, RegisteredNick
from mixd.storage.contracts.pep import AccessModel, NodeConfig, PepItem, SendLast
from mixd.storage.contracts.roster import LastPresence, RosterItem, Subscription
from mixd.storage.memory.accounts import MemoryAccountStore
from mixd.storage.memory.archive import MemoryArchiveStore
from mixd.storage.memory.blocklist import MemoryBlocklistStore
from mixd.storage.memory.dump import MemoryDumpStore
from mixd.storage.memory.mix import MemoryMixStore
from mixd.storage.memory.mix_misc import MemoryMixMiscStore
from mixd.storage.memory.offline import MemoryOfflineStore
from mixd.storage.memory.pep import MemoryPepStore
from mixd.storage.memory.roster import MemoryRosterStore

HOST, MIX = "example.org", "mix.example.org"
ALICE, BOB, CAROL = f"alice@{HOST}", f"bob@{HOST}", f"carol@{HOST}"
ROOM, GONE = f"room@{MIX}", f"gone@{MIX}"
NICKS_ONLY = "mix.elsewhere.org"  # a MIX service with a registered nick and no channel
SERVICES = frozenset({MIX, NICKS_ONLY})
PASSWORD = "correct horse \u00e9 battery"
T0 = 1_700_000_000_000_000


@dataclass
class Backend:
    stores: Stores
    dump: DumpStore


def memory_backend() -> Backend:
    accounts, archive, mix = MemoryAccountStore(), MemoryArchiveStore(), MemoryMixStore()
    roster = MemoryRosterStore(accounts)
    misc = MemoryMixMiscStore(mix)
    memory = Stores(
        accounts=accounts,
        archive=archive,
        mix=mix,
        mix_misc=misc,
        offline=MemoryOfflineStore(),
        pep=MemoryPepStore(accounts),
        roster=roster,
        blocklist=MemoryBlocklistStore(accounts),
    )
    return Backend(memory, MemoryDumpStore(accounts, archive, mix, misc, roster))


async def exported(backend: Backend) -> str:
    out = io.StringIO()
    await Exporter(backend.stores, backend.dump, out).run()
    return out.getvalue()


def chat(n: int, to: str, body: str = "") -> str:
    return (
        f'<message to="{to}" type="chat" id="m{n}"><body>{body or f"m{n}"} &lt;&amp;&gt;'
        f' "quoted" \u00e9&#13;\n</body><x xmlns="urn:example:x" a="1&#10;2"><y/></x></message>'
    )


async def populate(stores: Stores, dump_store: DumpStore) -> None:
    """Accounts, rosters, presence, offline, PEP, vCard, archives (a shared
    1:1 message, channel messages shown through open and closed follow
    spans, an orphan archive), channels with config and access lists."""
    credentials = make_credentials(PASSWORD, 4096)
    for user in ("alice", "bob", "carol"):
        await stores.accounts.create(HOST, user, credentials)
    roster = stores.roster
    await roster.update(
        HOST, "alice", BOB, lambda _: RosterItem(BOB, "Bob", ("Friends", "Work"), Subscription.BOTH)
    )
    await roster.update(
        HOST,
        "alice",
        CAROL,
        lambda _: RosterItem(
            CAROL,
            None,
            (),
            Subscription.NONE,
            ask=True,
            pending_in=True,
            request='<presence type="subscribe" from="carol@example.org"/>',
            listed=False,
        ),
    )
    await roster.update(
        HOST,
        "alice",
        ROOM,
        lambda _: RosterItem(ROOM, "Room", (), Subscription.BOTH, mix_participant_id="p-alice"),
    )
    await roster.update(
        HOST,
        "alice",
        BOB,
        lambda old: old and RosterItem(BOB, "Bobby", old.groups, old.subscription, approved=True),
    )
    await roster.set_last_presence(
        HOST,
        "alice",
        LastPresence(
            '<presence type="unavailable" from="alice@example.org/phone">'
            "<status>gone</status></presence>",
            datetime(2024, 1, 2, 3, 4, 5, 678901, tzinfo=UTC),
        ),
    )
    for n in range(3):
        await stores.offline.push(
            BOB, chat(100 + n, BOB), datetime(2024, 2, 1, 0, 0, n, tzinfo=UTC), 100
        )
    config = NodeConfig(AccessModel.ROSTER, None, True, SendLast.ON_SUB, ("Friends",))
    await stores.pep.create(HOST, "alice", "urn:xmpp:avatar:metadata", config)
    for n in range(3):
        item = PepItem(
            f"i{n}",
            f'<metadata xmlns="urn:xmpp:avatar:metadata"><info id="{n}" bytes="1"/></metadata>',
            datetime(2024, 3, 1, n, tzinfo=UTC),
            f"{ALICE}/phone",
        )
        await stores.pep.publish(HOST, "alice", "urn:xmpp:avatar:metadata", item, lambda _: config)
    await stores.pep.publish(
        HOST,
        "bob",
        "empty",
        PepItem("x", "", datetime(2024, 3, 2, tzinfo=UTC), f"{BOB}/a"),
        lambda _: NodeConfig(),
    )
    await stores.blocklist.block(HOST, "alice", ["spam.example", "troll@evil.example/x"], 100)
    await stores.pep.set_vcard(
        HOST, "alice", '<vCard xmlns="vcard-temp"><FN>Alice &amp; co</FN></vCard>'
    )
    archive = stores.archive
    await archive.set_prefs(ALICE, Prefs(DefaultMode.ROSTER, (BOB,), (CAROL, "spam.example")))
    for n in range(5):
        ts = T0 + n * 1000 if n != 3 else T0 + 2000  # a repeated timestamp
        record = MessageRecord(chat(n, BOB), ts, ALICE, "chat", origin_id=f"o{n}")
        await archive.store(
            record,
            [
                NewEntry(ALICE, BOB, Direction.OUT, ts, "phone"),
                NewEntry(BOB, ALICE, Direction.IN, ts),
            ],
        )
    for jid in (ROOM, GONE):
        await stores.mix.create_channel(
            Channel(
                jid,
                jid == GONE,
                T0,
                (ALICE,),
                b"\x00secret\xff",
                ChannelInfo("Room", "A room", (ALICE,), T0 + 5),
                {"Messages Node Subscription": ("participants",), "Last Change Made By": ()},
                T0 + 7,
                T0 + 10**12 if jid == ROOM else None,
            )
        )
    for n, user in enumerate((ALICE, BOB)):
        await stores.mix.join(
            Participant(
                ROOM,
                user,
                f"p-{user[:3]}",
                f"nick{n}",
                frozenset({"urn:xmpp:mix:nodes:messages", "urn:xmpp:mix:nodes:presence"}),
                T0 + n,
                (("JID Visibility", "never"), ("vCard", "allow")) if n == 0 else (),
            )
        )
    for n in range(2):
        avatar = f'<data xmlns="urn:xmpp:avatar:data">{"QUJD" * (n + 1)}</data>'
        await stores.mix_misc.publish_item(
            ROOM, "urn:xmpp:avatar:data", NodeItem(f"a{n}", avatar, T0 + n), 10
        )
    await stores.mix_misc.register_nick(RegisteredNick(MIX, BOB, "Bobby", "bobby"))
    await stores.mix_misc.register_nick(RegisteredNick(NICKS_ONLY, CAROL, "C", "c"))
    await stores.mix.add_access(ROOM, "allowed", HOST)
    await stores.mix.add_access(ROOM, "banned", "troll@evil.example")
    await archive.follow(ALICE, ROOM)
    await archive.follow(BOB, ROOM)
    for n in range(6):
        if n == 2:
            await archive.unfollow(BOB, ROOM)  # bob's first span: m0, m1
        if n == 4:
            await archive.follow(BOB, ROOM)  # his second: m4, m5 and on
        ts = T0 + 10_000 + n
        record = MessageRecord(
            f'<message from="{ROOM}/p-ali" type="groupchat"><body>c{n}</body></message>',
            ts,
            ALICE,
            "groupchat",
        )
        await archive.store(record, [NewEntry(ROOM, ALICE, Direction.IN, ts, "p-ali")])
    await archive.follow(CAROL, GONE)  # open, nothing shown yet
    record = MessageRecord(
        '<message type="groupchat"><body>left behind</body></message>', T0, ALICE, "groupchat"
    )
    stored = await archive.store(record, [NewEntry(GONE, ALICE, Direction.IN, T0, "p-ali")])
    await archive.unfollow(CAROL, GONE)
    await archive.follow(CAROL, GONE)
    assert stored.entry_ids
    await stores.mix.delete_channel(GONE)  # its archive stays: an orphan


async def snapshot(stores: Stores, dump_store: DumpStore) -> dict[str, Any]:
    """Everything every store holds, in comparable form."""
    s: dict[str, Any] = {}
    for host in await dump_store.account_hosts():
        for user in await stores.accounts.list_usernames(host):
            jid = f"{user}@{host}"
            s[f"account {jid}"] = await stores.accounts.get(host, user)
            s[f"roster {jid}"] = await stores.roster.roster(host, user)
            s[f"last {jid}"] = await stores.roster.last_presence(host, user)
            s[f"offline {jid}"] = [
                (m.stanza, m.stamp) for m in await stores.offline.fetch(jid, 1000)
            ]
            for node in await stores.pep.nodes(host, user):
                s[f"pep {jid} {node.name}"] = await stores.pep.items(host, user, node.name)
            s[f"vcard {jid}"] = await stores.pep.vcard(host, user)
            s[f"blocklist {jid}"] = await stores.blocklist.blocklist(host, user)
    for service in await dump_store.channel_services():
        for channel in await stores.mix.list_channels(service, None, 1000, adhoc=True):
            s[f"channel {channel.jid}"] = channel
            s[f"participants {channel.jid}"] = await stores.mix.participants(channel.jid)
            s[f"items {channel.jid}"] = await dump_store.channel_node_items(channel.jid)
            for which in ("allowed", "banned"):
                s[f"{which} {channel.jid}"] = await stores.mix.access_list(channel.jid, which)
        s[f"nicks {service}"] = await dump_store.registered_nicks(service)
    owners = await dump_store.archive_owners(None, 1000)
    for owner in owners:
        page = await stores.archive.query(ArchiveQuery(owner, 1000))
        s[f"archive {owner}"] = page
        s[f"prefs {owner}"] = await stores.archive.get_prefs(owner)
        s[f"followers {owner}"] = await stores.archive.followers(owner)
        s[f"spans {owner}"] = await dump_store.spans(owner)
    s["owners"] = owners
    return s
