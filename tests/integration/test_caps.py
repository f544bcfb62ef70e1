"""XEP-0115: the server learns each client's features from its presence."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from mixd.jid import JID
from mixd.services.caps import CapsModule
from tests.helpers import TIMEOUT, ServerHandle
from tests.wire import raw_session

MIX_CORE = "urn:xmpp:mix:core:1"
PLUGINS = ("xep_0030", "xep_0115", "xep_0199")


def caps_module(server: ServerHandle) -> CapsModule:
    assert server.app.server is not None
    module = server.app.server.registry.modules["caps"]
    assert isinstance(module, CapsModule)
    return module


async def login_with_mix(server: ServerHandle, jid: str, password: str) -> object:
    xmpp = await server.client(jid, password, plugins=PLUGINS, presence=False)
    xmpp.plugin["xep_0030"].add_feature(MIX_CORE)
    await xmpp.plugin["xep_0115"].update_caps()  # sends presence with the new ver
    await xmpp.plugin["xep_0199"].ping("localhost", timeout=TIMEOUT)  # presence handled
    return xmpp


async def test_server_learns_client_features(server: ServerHandle) -> None:
    await server.add_user("alice@localhost", "pw-a")
    xmpp = await login_with_mix(server, "alice@localhost/phone", "pw-a")
    assert server.app.server is not None
    session = server.app.server.sessions.get(JID.parse("alice@localhost/phone"))
    assert session is not None
    module = caps_module(server)
    assert await module.supports(session, MIX_CORE)
    assert await module.supports(session, "urn:xmpp:ping")
    assert not await module.supports(session, "urn:example:not-there")
    assert xmpp is not None


async def test_same_ver_is_answered_from_the_cache(server: ServerHandle) -> None:
    await server.add_user("alice@localhost", "pw-a")
    await server.add_user("bob@localhost", "pw-b")
    await login_with_mix(server, "alice@localhost/phone", "pw-a")
    module = caps_module(server)
    assert server.app.server is not None
    first = server.app.server.sessions.get(JID.parse("alice@localhost/phone"))
    assert first is not None and await module.supports(first, MIX_CORE)
    queries: list[object] = []
    router = server.app.server.router
    original = router.request

    async def counting(*args: object, **kwargs: object) -> object:
        queries.append(args)
        return await original(*args, **kwargs)  # type: ignore[arg-type]

    router.request = counting  # type: ignore[method-assign]
    await login_with_mix(server, "bob@localhost/laptop", "pw-b")
    second = server.app.server.sessions.get(JID.parse("bob@localhost/laptop"))
    assert second is not None and await module.supports(second, MIX_CORE)
    assert queries == []  # same client software, same verified ver: no disco query


DISCO_INFO = "http://jabber.org/protocol/disco#info"
PAM = "urn:xmpp:mix:pam:2"


async def test_lookup_answer_is_not_queued_behind_what_waits_for_it(
    server: ServerHandle,
) -> None:
    """Presence without caps and, at once, a channel message: reflecting the
    message waits for this client's features, whose disco#info answer
    arrives behind the message on the same stream. The answer is taken as
    it arrives, so the message is reflected to the client (no stall until
    the lookup times out and the client counts as not MIX-capable)."""
    await server.add_user("alice@localhost", "pw-a")
    wire, _ = await raw_session(server, "alice", "pw-a", "r")
    channel = "coven@mix.localhost"
    await wire.send(
        f"<iq type='set' id='c' to='mix.localhost'>"
        f"<create xmlns='{MIX_CORE}' channel='coven'/></iq>"
        f"<iq type='set' id='j' to='alice@localhost'>"
        f"<client-join xmlns='{PAM}' channel='{channel}'>"
        f"<join xmlns='{MIX_CORE}'><subscribe node='urn:xmpp:mix:nodes:messages'/>"
        "<nick>hag</nick></join></client-join></iq>"
    )
    joined = await wire.expect(lambda el: el.get("id") == "j")
    assert joined.get("type") == "result", ET.tostring(joined)
    await wire.send(
        f"<presence/><message to='{channel}' type='groupchat' id='g'><body>hi</body></message>"
    )
    query = await wire.expect(lambda el: el.find(f"{{{DISCO_INFO}}}query") is not None)
    await wire.send(
        f"<iq type='result' id='{query.get('id')}' to='localhost'><query xmlns='{DISCO_INFO}'>"
        f"<identity category='client' type='pc'/><feature var='{MIX_CORE}'/></query></iq>"
    )
    reflected = await wire.expect(lambda el: el.get("type") == "groupchat")
    assert reflected.findtext("{jabber:client}body") == "hi"
