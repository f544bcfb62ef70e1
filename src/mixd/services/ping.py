"""XEP-0199 XMPP Ping 2.0.1: the server answers pings to its domains."""

from __future__ import annotations

from collections.abc import Sequence

from mixd import ns as NS
from mixd.codec.base import Payload
from mixd.codec.xep0199_ping import Ping
from mixd.core.module import IqRequest, IqRoute, Module, Scope, Xep


class PingModule(Module):
    name = "ping"
    xeps = (Xep(199, "2.0.1"),)
    host_features = (NS.PING,)

    def routes(self) -> Sequence[IqRoute]:
        return (IqRoute(Scope.HOST, Ping, get=self.pong),)

    async def pong(self, iq: IqRequest[Ping]) -> Payload | None:
        return None  # an empty result is the answer
