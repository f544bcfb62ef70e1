"""MIX-PAM with real clients: the client asks its own server to join or
leave; the server carries the request to the channel and every answer,
errors included, back to the client."""

from __future__ import annotations

import pytest
from slixmpp.exceptions import IqError

from tests.helpers import ServerHandle
from tests.mix_client import MIX, MIX0, SERVICE, Inbox, child, create, iq, mix_client

PAM = "urn:xmpp:mix:pam:2"
PAM0 = "urn:xmpp:mix:pam:0"
CHANNEL = f"coven@{SERVICE}"


def client_join(channel: str, nick: str, pam: str = PAM, core: str = MIX) -> str:
    return (
        f"<client-join xmlns='{pam}' channel='{channel}'><join xmlns='{core}'>"
        "<subscribe node='urn:xmpp:mix:nodes:messages'/>"
        "<subscribe node='urn:xmpp:mix:nodes:participants'/>"
        f"<nick>{nick}</nick></join></client-join>"
    )


@pytest.fixture
async def users(server: ServerHandle) -> tuple[object, object]:
    await server.add_user("hag66@localhost", "pw-h")
    await server.add_user("hecate@localhost", "pw-e")
    return (
        await mix_client(server, "hag66@localhost/r", "pw-h"),
        await mix_client(server, "hecate@localhost/r", "pw-e"),
    )


async def test_client_join_then_chat_then_leave(users: tuple) -> None:  # type: ignore[type-arg]
    hag, hecate = users
    await create(hag, "coven")
    result = await iq(hag, "hag66@localhost", client_join(CHANNEL, "third witch"))
    wrapped = child(result, f"{{{PAM}}}client-join")
    join = wrapped.find(f"{{{MIX}}}join")
    assert join is not None and join.get("id")
    assert join.get("jid") == f"{join.get('id')}#{CHANNEL}"  # XEP-0405's form too
    await iq(hecate, "hecate@localhost", client_join(CHANNEL, "top witch"))
    got = Inbox(hecate, kind="groupchat")
    hag.send_message(mto=CHANNEL, mbody="hello coven", mtype="groupchat")
    [message] = await got.wait(1)
    assert message["body"] == "hello coven"
    left = await iq(
        hecate,
        "hecate@localhost",
        f"<client-leave xmlns='{PAM}' channel='{CHANNEL}'><leave xmlns='{MIX}'/></client-leave>",
    )
    assert child(left, f"{{{PAM}}}client-leave").find(f"{{{MIX}}}leave") is not None


@pytest.mark.parametrize(
    ("channel", "nick", "condition"),
    [(f"nowhere@{SERVICE}", "x", "item-not-found"), (CHANNEL, "Third Witch", "conflict")],
    ids=["unknown-channel", "duplicate-nick"],
)
async def test_join_errors_reach_the_client(
    users: tuple, channel: str, nick: str, condition: str
) -> None:  # type: ignore[type-arg]
    hag, hecate = users
    await create(hag, "coven")
    await iq(hag, "hag66@localhost", client_join(CHANNEL, "third witch"))
    with pytest.raises(IqError) as err:
        await iq(hecate, "hecate@localhost", client_join(channel, nick))
    assert err.value.condition == condition


async def test_ejabberd_guide_stanzas_verbatim(users: tuple) -> None:  # type: ignore[type-arg]
    """The create and client-join of ejabberd's MIX guide, namespaces and all."""
    hag, _ = users
    created = await iq(hag, SERVICE, f"<create channel='coven' xmlns='{MIX0}'/>")
    assert child(created, f"{{{MIX0}}}create").get("channel") == "coven"
    guide_join = (
        f"<client-join xmlns='{PAM0}' channel='coven@{SERVICE}'>"
        f"<join xmlns='{MIX0}'><nick>third witch</nick>"
        "<subscribe node='urn:xmpp:mix:nodes:messages'></subscribe>"
        "<subscribe node='urn:xmpp:mix:nodes:presence'></subscribe>"
        "<subscribe node='urn:xmpp:mix:nodes:participants'></subscribe>"
        "<subscribe node='urn:xmpp:mix:nodes:subject'></subscribe>"
        "<subscribe node='urn:xmpp:mix:nodes:config'></subscribe>"
        "</join></client-join>"
    )
    result = await iq(hag, "hag66@localhost", guide_join)
    join = child(result, f"{{{PAM0}}}client-join").find(f"{{{MIX0}}}join")
    assert join is not None and join.findtext(f"{{{MIX0}}}nick") == "third witch"
    nodes = [s.get("node") for s in join.findall(f"{{{MIX0}}}subscribe")]
    assert "urn:xmpp:mix:nodes:messages" in nodes and "urn:xmpp:mix:nodes:participants" in nodes


async def test_join_for_someone_else_is_forbidden(users: tuple) -> None:  # type: ignore[type-arg]
    hag, hecate = users
    await create(hag, "coven")
    with pytest.raises(IqError) as err:
        await iq(hecate, "hag66@localhost", client_join(CHANNEL, "imposter"))
    assert err.value.condition == "forbidden"
