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

import os

import pytest

from tests.reliability.harness import MixdProcess
from tests.reliability.traffic import crash_run

KILLS = int(os.environ.get("MIXD_CRASH_KILLS", "20"))


@pytest.mark.timeout(240)
async def test_acknowledged_messages_survive_kill_9(mixd: MixdProcess) -> None:
    await crash_run(mixd, KILLS, "kills")
