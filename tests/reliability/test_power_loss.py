"""Power-loss test (RELIABILITY G5): acknowledged means on disk.

The crash test's traffic (tests/reliability/traffic.py) against a server
whose data directory loses, at each kill, every write that was not followed
by an fsync (tests/reliability/power.py): the state a disk may be left in
when the power goes. With the default `storage.sqlite_durability = "full"`
every message acknowledged or reflected before the cut must be in every
archive exactly once. (With "process" it is not: that profile promises only
to survive a crash of mixd, and this test fails against it.)

MIXD_POWERLOSS_KILLS sets the number of power cuts; MIXD_CRASH_SEED replays
a run's random choices.
"""

from __future__ import annotations

import os

import pytest

from tests.reliability.harness import MixdProcess
from tests.reliability.power import build_shim, lose_power, mark_durable, preload_env
from tests.reliability.traffic import crash_run

CUTS = int(os.environ.get("MIXD_POWERLOSS_KILLS", "10"))


@pytest.mark.timeout(240)
async def test_acknowledged_messages_survive_power_loss(mixd: MixdProcess) -> None:
    shim = build_shim(mixd.workdir)

    def power_on() -> None:
        mark_durable(mixd.data_dir)  # what setup left is on disk
        mixd.env = preload_env(shim, mixd.data_dir)

    await crash_run(
        mixd, CUTS, "power cuts", power_on, after_kill=lambda: lose_power(mixd.data_dir)
    )
