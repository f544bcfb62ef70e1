"""XEP-0406 MIX-ADMIN 0.3.1 "End of Life": the server destroys a channel
once the configured date and time has passed. A sweep runs at start and
then every `mix.expiry_interval` seconds, so a channel outlives its end of
life by at most one interval; the clock is injectable so the sweep can be
driven directly."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from mixd.codec.xep0082_datetime import now_micros
from mixd.jid import JID
from mixd.services.mix.lifecycle import destroy_channel
from mixd.services.mix.service import MixService, guarded

log = logging.getLogger(__name__)

BATCH = 100  # channels destroyed per store query


class Expiry:
    def __init__(
        self, service: MixService, interval: float, clock: Callable[[], int] = now_micros
    ) -> None:
        self.service = service
        self.interval = interval
        self.clock = clock  # microseconds since the epoch

    async def sweep(self) -> list[str]:
        """Destroy every channel whose end of life is not after now; returns their JIDs."""
        now = self.clock()
        service = self.service
        destroyed: list[str] = []
        while True:
            due = await guarded(service.store.expired_channels(service.domain, now, BATCH))
            progress = False
            for jid in due:
                if not service.owns(jid):
                    continue  # another cluster node's channel: that node destroys it
                state = await service.channel(JID.parse(jid))
                if state is not None:
                    await destroy_channel(service, state)
                    destroyed.append(jid)
                    progress = True
                    log.info("channel %s destroyed: end of life reached", jid)
            if len(due) < BATCH or not progress:
                return destroyed

    async def run(self) -> None:
        """Sweep forever (cancelled when the module stops). Whatever fails in
        one sweep is logged and the next one tries again: the loop must not
        die quietly and leave channels past their end of life."""
        while True:
            try:
                await self.sweep()
            except Exception:
                log.exception("end-of-life sweep of %s failed", self.service.domain)
            await asyncio.sleep(self.interval)
