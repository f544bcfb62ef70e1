"""Stanzas a node hands to another node to route, and the wait for that
node to say it has: a message to a channel owned elsewhere is acknowledged
to its sender (XEP-0198) only once the owner has stored and reflected it,
or answered it with an error, as on a single server.

Keys are `<node>:<n>`, so the answer finds its way back to the node that
waits. A waiting stanza fails with `remote-server-timeout` (type wait) when
the other node does not answer in time or leaves the cluster: the owner may
or may not have stored it, and a client's resend with the same origin-id is
stored once either way."""

from __future__ import annotations

import asyncio
import itertools

from mixd.errors import StanzaError, StanzaErrorCondition

TIMEOUT = 10.0  # seconds an owner has to route a stanza handed to it


class Confirmations:
    def __init__(self, node: str) -> None:
        self.node = node
        self._numbers = itertools.count(1)
        self._waiting: dict[str, tuple[str, asyncio.Future[None]]] = {}

    def expect(self, target: str) -> tuple[str, asyncio.Future[None]]:
        """A key for a stanza handed to `target`, and what resolves when it is routed."""
        key = f"{self.node}:{next(self._numbers)}"
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting[key] = (target, future)
        return key, future

    async def wait(self, key: str, future: asyncio.Future[None]) -> None:
        try:
            await asyncio.wait_for(future, TIMEOUT)
        except TimeoutError:
            raise _not_confirmed("did not answer in time") from None
        finally:
            self._waiting.pop(key, None)

    def confirmed(self, key: str) -> None:
        entry = self._waiting.get(key)
        if entry is not None and not entry[1].done():
            entry[1].set_result(None)

    def node_left(self, node: str) -> None:
        for target, future in list(self._waiting.values()):
            if target == node and not future.done():
                future.set_exception(_not_confirmed("left the cluster"))


def origin_of(key: str) -> str:
    """The node waiting for the answer to `key`."""
    return key.partition(":")[0]


def _not_confirmed(why: str) -> StanzaError:
    return StanzaError(
        StanzaErrorCondition.REMOTE_SERVER_TIMEOUT, f"the channel's cluster node {why}"
    )
