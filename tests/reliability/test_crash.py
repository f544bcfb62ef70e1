"""Crash test (RELIABILITY G4): acknowledged means archived, across `kill -9`.

Four users of a real `mixd` process exchange 1:1 chat messages and
messages to a MIX channel they all joined, each with an origin-id, with
XEP-0198 acks (tests/reliability/traffic.py). At a random moment of each
server lifetime (seeded) the server is killed with SIGKILL and restarted on
the same database; every client reconnects and resends, with the same
origin-id, each message it never saw confirmed (by an `<a h/>` covering it
or, for the channel, by its reflection). The kill lands anywhere: during
logins, resends or steady traffic, between a commit and its ack.

At the end the archives are read back with MAM: every message is present
exactly once in the sender's and the recipient's archive (1:1), or in the
channel's archive and each participant's own archive (MIX-PAM, also
queried with the channel as `with`). A confirmed message that is missing
is a loss; one stored twice after a resend means origin-id de-duplication
failed.

The seed is in the failure message: MIXD_CRASH_SEED=<seed> replays its
delays and messages (the timing of a kill against the traffic still
varies); MIXD_CRASH_KILLS sets the number of kills.
"""

from __future__ import annotations

import asyncio
import os
import random
import time

import pytest

from tests.helpers import TIMEOUT
from tests.reliability.harness import Ledger, MixdProcess
from tests.reliability.traffic import (
    USERS,
    Lifetime,
    prepare,
    read_archives,
    resend_everything,
    run_seed,
    statistics,
)

KILLS = int(os.environ.get("MIXD_CRASH_KILLS", "20"))
KILL_DELAY = (0.05, 0.6)  # seconds after the server reported it started


@pytest.mark.timeout(240)
async def test_acknowledged_messages_survive_kill_9(mixd: MixdProcess) -> None:
    seed = run_seed()
    rng = random.Random(seed)
    ledger = Ledger()
    started = time.monotonic()
    await prepare(mixd)
    await mixd.kill()  # right after setup, nothing in flight

    for cycle in range(KILLS):
        life = Lifetime(mixd, ledger, random.Random(f"{seed}/{cycle}"))
        await mixd.start()
        clients = [asyncio.create_task(life.client(user)) for user in USERS]
        await asyncio.sleep(rng.uniform(*KILL_DELAY))  # the fault injection, not a sync
        life.ending = True
        await mixd.kill()
        ledger.server_stopped()
        results = await asyncio.wait_for(asyncio.gather(*clients, return_exceptions=True), TIMEOUT)
        failures = [r for r in results if isinstance(r, BaseException)] + await life.settle()
        assert not failures, f"seed {seed}, kill {cycle + 1}: {failures!r}\n{mixd.tail()}"

    await resend_everything(mixd, ledger, seed)
    findings = await read_archives(mixd, ledger)
    assert await mixd.terminate() == 0, mixd.tail()
    stats = statistics(ledger, mixd, time.monotonic() - started)
    print(f"seed {seed}: {stats}")
    assert findings.ok(), f"seed {seed}, {KILLS} kills: {stats}\n{findings.summary()}"
