"""The traffic of the crash and shutdown tests: four users who joined one
MIX channel send 1:1 chat and channel messages (each with an origin-id,
XEP-0198 acks requested after each), at most WINDOW unconfirmed at a time;
then what the archives hold is compared with what was confirmed."""

from __future__ import annotations

import asyncio
import os
import random
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from tests.helpers import TIMEOUT
from tests.reliability.harness import (
    HOST,
    SERVICE,
    Findings,
    Ledger,
    Message,
    MixdProcess,
    Peer,
    client_join,
    compare,
    create_channel,
    login,
    mam_origin_ids,
)

USERS = ("anna", "boris", "clara", "dmitri")
CHANNEL = f"crashtest@{SERVICE}"
WINDOW = 8  # messages in flight per client (sent, not yet confirmed)


def run_seed() -> int:
    """MIXD_CRASH_SEED replays a run's random choices; otherwise a new one."""
    return int(os.environ.get("MIXD_CRASH_SEED") or secrets.randbits(32))


def password(user: str) -> str:
    return f"pw-{user}"


def bare(user: str) -> str:
    return f"{user}@{HOST}"


async def prepare(server: MixdProcess) -> None:
    """Accounts from the command line, a started server, and a channel
    everyone joined (MIX-PAM client-join)."""
    for user in USERS:
        await server.add_user(bare(user), password(user))
    port = await server.start()
    for n, user in enumerate(USERS):
        link = await login(port, server.ca_file, user, password(user), "setup")
        if n == 0:
            await create_channel(link, CHANNEL.split("@", 1)[0])
        await client_join(link, bare(user), CHANNEL, user)
        await link.logout()


KILL_DELAY = (0.05, 0.6)  # seconds after the server reported it started


async def crash_run(
    server: MixdProcess,
    kills: int,
    what: str,
    before_cycles: Callable[[], object] = lambda: None,
    after_kill: Callable[[], object] = lambda: None,
) -> None:
    """The whole crash scenario: accounts and a channel, `kills` lifetimes
    ended by kill -9 (and `after_kill()`), every unconfirmed message resent,
    then every archive must hold every message exactly once."""
    seed = run_seed()
    ledger = Ledger()
    started = time.monotonic()
    await prepare(server)
    await server.kill()  # right after setup, nothing in flight
    before_cycles()
    await kill_cycles(server, ledger, seed, kills, after_kill)
    await resend_everything(server, ledger, seed)
    findings = await read_archives(server, ledger)
    assert await server.terminate() == 0, server.tail()
    stats = statistics(ledger, server, time.monotonic() - started)
    print(f"seed {seed}: {stats}")
    assert findings.ok(), f"seed {seed}, {kills} {what}: {stats}\n{findings.summary()}"


async def kill_cycles(
    server: MixdProcess,
    ledger: Ledger,
    seed: int,
    kills: int,
    after_kill: Callable[[], object] = lambda: None,
) -> None:
    """Start the server, let the four clients run, kill -9 it at a random
    moment (seeded), `after_kill()`; `kills` times. Fails if a client saw
    something wrong."""
    rng = random.Random(seed)
    for cycle in range(kills):
        life = Lifetime(server, ledger, random.Random(f"{seed}/{cycle}"))
        await server.start()
        clients = [asyncio.create_task(life.client(user)) for user in USERS]
        await asyncio.sleep(rng.uniform(*KILL_DELAY))  # the fault injection, not a sync
        life.ending = True
        await server.kill()
        after_kill()
        ledger.server_stopped()
        results = await asyncio.wait_for(asyncio.gather(*clients, return_exceptions=True), TIMEOUT)
        failures = [r for r in results if isinstance(r, BaseException)] + await life.settle()
        assert not failures, f"seed {seed}, kill {cycle + 1}: {failures!r}\n{server.tail()}"


@dataclass
class Lifetime:
    """The clients of one server lifetime. Set `ending` before the server
    is stopped: from then on a client's connection errors are expected."""

    server: MixdProcess
    ledger: Ledger
    rng: random.Random
    ending: bool = False
    peers: dict[str, Peer] = field(default_factory=dict)
    readers: list[asyncio.Task[None]] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def new_message(self, sender: str) -> Message:
        if self.rng.random() < 0.5:
            return self.ledger.new(bare(sender), CHANNEL, "groupchat")
        other = self.rng.choice([u for u in USERS if u != sender])
        return self.ledger.new(bare(sender), bare(other), "chat")

    async def client(self, user: str, *, final: bool = False) -> None:
        """Log in, resend what was never confirmed, then send new messages
        until the connection ends (or, when `final`, until all is confirmed)."""
        try:
            server = self.server
            peer = await Peer.connect(
                server.port, server.ca_file, user, password(user), self.ledger, self.changed
            )
            self.peers[user] = peer
            self.readers.append(asyncio.get_running_loop().create_task(peer.read()))
            for message in self.ledger.pending(peer.bare):
                await peer.wait_until(lambda: peer.in_flight() < WINDOW)
                await peer.send_message(message)
            if final:
                await peer.wait_until(lambda: not self.ledger.pending(peer.bare))
                return
            while True:
                await peer.wait_until(lambda: peer.in_flight() < WINDOW)
                await peer.send_message(self.new_message(user))
        except AssertionError:
            raise  # the server said something wrong: always a failure
        except Exception:
            if not self.ending:
                raise  # the connection failed while the server was up

    async def flowing(self, confirmations: int) -> None:
        """Until every client is connected and has seen that many of its
        messages confirmed."""

        def ready() -> bool:
            return len(self.peers) == len(USERS) and all(
                p.confirmations >= confirmations for p in self.peers.values()
            )

        async def wait() -> None:
            while not ready():
                self.changed.clear()
                await self.changed.wait()

        await asyncio.wait_for(wait(), TIMEOUT)

    async def settle(self) -> list[BaseException]:
        """Once the server is gone: every reader ends; the failures (a
        reader fails only on something the server should not have sent)."""
        for peer in self.peers.values():
            peer.link.abort()
        results = await asyncio.wait_for(
            asyncio.gather(*self.readers, return_exceptions=True), TIMEOUT
        )
        return [r for r in results if isinstance(r, AssertionError)]


async def resend_everything(server: MixdProcess, ledger: Ledger, seed: int) -> None:
    """A last lifetime without faults: everything never confirmed is resent
    until it is; the clients log out."""
    life = Lifetime(server, ledger, random.Random(f"{seed}/final"))
    await server.start()
    await asyncio.wait_for(
        asyncio.gather(*(life.client(u, final=True) for u in USERS)), 3 * TIMEOUT
    )
    for peer in life.peers.values():
        await peer.close()
    life.ending = True
    failures = await life.settle()
    assert not failures, f"seed {seed}: {failures!r}"


async def read_archives(server: MixdProcess, ledger: Ledger) -> Findings:
    """Each user's whole archive and its channel part, and the channel's
    archive, read with MAM, against every message a client sent."""
    messages = [m for m in ledger.messages.values() if m.sends]
    groupchat = [m for m in messages if m.kind == "groupchat"]
    findings = Findings()
    for user in USERS:
        jid = bare(user)
        link = await login(server.port, server.ca_file, user, password(user), "mam")
        chats = [m for m in messages if m.kind == "chat" and jid in (m.sender, m.to)]
        compare(findings, jid, await mam_origin_ids(link), [*chats, *groupchat])
        own = await mam_origin_ids(link, with_jid=CHANNEL)
        compare(findings, f"{jid} with {CHANNEL}", own, groupchat)
        if user == USERS[0]:
            compare(findings, CHANNEL, await mam_origin_ids(link, to=CHANNEL), groupchat)
        await link.logout()
    return findings


def statistics(ledger: Ledger, server: MixdProcess, seconds: float) -> str:
    messages = [m for m in ledger.messages.values() if m.sends]
    lifetimes = ledger.lifetimes
    return (
        f"{server.starts} server starts, {len(messages)} messages "
        f"({sum(m.kind == 'groupchat' for m in messages)} to the channel), "
        f"{sum(m.confirmed_before_stop for m in messages)} confirmed before a stop, "
        f"{sum(m.sends > 1 for m in messages)} resent; confirmations per lifetime: "
        f"min {min(lifetimes, default=0)}, max {max(lifetimes, default=0)}, "
        f"{sum(n == 0 for n in lifetimes)} lifetimes without any; {seconds:.1f} s"
    )
