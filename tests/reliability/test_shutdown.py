"""Graceful shutdown under traffic (RELIABILITY G9): SIGTERM while four
clients send 1:1 and channel messages. Every client gets one
`<stream:error><system-shutdown/>` as the last thing on its stream, the
process exits 0, and after a restart everything that was acknowledged or
reflected is archived exactly once (the idle case, one slixmpp client, is
tests/integration/test_cli.py::test_run_login_and_sigterm)."""

from __future__ import annotations

import asyncio
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

STOPS = 3


@pytest.mark.timeout(120)
async def test_sigterm_under_traffic(mixd: MixdProcess) -> None:
    seed = run_seed()
    rng = random.Random(seed)
    ledger = Ledger()
    started = time.monotonic()
    await prepare(mixd)
    assert await mixd.terminate() == 0, mixd.tail()

    for stop in range(STOPS):
        life = Lifetime(mixd, ledger, random.Random(f"{seed}/{stop}"))
        await mixd.start()
        clients = [asyncio.create_task(life.client(user)) for user in USERS]
        await life.flowing(confirmations=5)
        await asyncio.sleep(rng.uniform(0, 0.2))  # when in the traffic to stop
        life.ending = True
        code = await mixd.terminate()
        ledger.server_stopped()
        results = await asyncio.wait_for(asyncio.gather(*clients, return_exceptions=True), TIMEOUT)
        failures = [r for r in results if isinstance(r, BaseException)] + await life.settle()
        context = f"seed {seed}, stop {stop + 1}"
        assert not failures, f"{context}: {failures!r}\n{mixd.tail()}"
        assert code == 0, f"{context}: exit code {code}\n{mixd.tail()}"
        for user, peer in life.peers.items():
            assert peer.stream_errors == ["system-shutdown"], (context, user, peer.stream_errors)
            assert peer.link.stream_closed and peer.after_error == 0, (context, user)

    await resend_everything(mixd, ledger, seed)
    findings = await read_archives(mixd, ledger)
    assert await mixd.terminate() == 0, mixd.tail()
    stats = statistics(ledger, mixd, time.monotonic() - started)
    print(f"seed {seed}: {stats}")
    assert findings.ok(), f"seed {seed}: {stats}\n{findings.summary()}"
