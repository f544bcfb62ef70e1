"""Converting a 1:1 conversation to a channel (XEP-0407) end to end: one
user creates an ad hoc channel, shares part of the 1:1 history as
forwarded messages (XEP-0297), then invites the other, who joins with the
invitation and finds the shared history in the channel's archive."""

from __future__ import annotations

from typing import Any

from tests.helpers import ServerHandle
from tests.mam_client import mam_query
from tests.misc_client import send_raw
from tests.mix_client import MIX, SERVICE, FromService, iq
from tests.pam_client import PAM, client_join_xml, pam_client
from tests.roster_client import next_event, wait

MISC = "urn:xmpp:mix:misc:0"
FORWARD = "urn:xmpp:forward:0"
DELAY = "urn:xmpp:delay"


def forwarded(sender: str, to: str, body: str, stamp: str) -> str:
    return (
        f"<forwarded xmlns='{FORWARD}'><delay xmlns='{DELAY}' stamp='{stamp}'/>"
        f"<message xmlns='jabber:client' from='{sender}' to='{to}' type='chat'>"
        f"<body>{body}</body></message></forwarded>"
    )


def inner_bodies(message: Any) -> list[str]:
    return [
        el.text or ""
        for el in message.xml.iter("{jabber:client}body")
        if el is not message.xml.find("{jabber:client}body")
    ]


async def chat(sender: Any, receiver: Any, body: str) -> None:
    arrived = next_event(receiver, "message", lambda m: m["body"] == body)
    sender.send_message(mto=receiver.boundjid.bare, mbody=body, mtype="chat")
    await wait(arrived)


async def test_one_to_one_becomes_a_channel_with_shared_history(server: ServerHandle) -> None:
    for name in ("hag66", "hecate"):
        await server.add_user(f"{name}@localhost", f"pw-{name}")
    hag = await pam_client(server, "hag66@localhost/r", "pw-hag66")
    hecate = await pam_client(server, "hecate@localhost/r", "pw-hecate")
    await chat(hag, hecate, "When shall we meet again?")
    await chat(hecate, hag, "When the hurlyburly's done")
    # 1. An ad hoc channel (no name: the service picks an unguessable one).
    created = await iq(hag, SERVICE, f"<create xmlns='{MIX}'/>")
    name = created.xml.find(f"{{{MIX}}}create").get("channel")
    channel = f"{name}@{SERVICE}"
    await iq(hag, "hag66@localhost", client_join_xml(channel, "hag"))
    # 2. History shared by the creator, before the other user is invited.
    history = FromService(hag, "message")
    shared = [
        (
            "hag66@localhost/r",
            "hecate@localhost",
            "When shall we meet again?",
            "2026-01-01T10:00:00Z",
        ),
        (
            "hecate@localhost/r",
            "hag66@localhost",
            "When the hurlyburly's done",
            "2026-01-01T10:01:00Z",
        ),
    ]
    for sender, to, body, stamp in shared:
        send_raw(hag, channel, forwarded(sender, to, body, stamp))
    for _, _, body, _ in shared:
        await history.until(lambda m, body=body: body in inner_bodies(m))
    # 3. The other user is invited, and joins with the invitation.
    ask = f"<invite xmlns='{MISC}'><invitee>hecate@localhost</invitee></invite>"
    invitation = (await iq(hag, channel, ask, "get")).xml.find(
        f"{{{MISC}}}invite/{{{MISC}}}invitation"
    )
    assert invitation is not None
    token = invitation.findtext(f"{{{MISC}}}token")
    fields = "".join(
        f"<{k}>{invitation.findtext(f'{{{MISC}}}{k}')}</{k}>"
        for k in ("inviter", "invitee", "channel", "token")
    )
    arrived = next_event(hecate, "message", lambda m: m["body"] == "Let us bring in the others")
    send_raw(
        hag,
        "hecate@localhost",
        f"<invitation xmlns='{MISC}'>{fields}</invitation>",
        body="Let us bring in the others",
        kind="chat",
    )
    got = (await wait(arrived)).xml.find(f"{{{MISC}}}invitation")
    assert got is not None and got.findtext(f"{{{MISC}}}token") == token
    join = client_join_xml(channel, "hecate").replace(
        "</join>", f"<invitation xmlns='{MISC}'>{fields}</invitation></join>"
    )
    result = await iq(hecate, "hecate@localhost", join)
    assert result.xml.find(f"{{{PAM}}}client-join/{{{MIX}}}join") is not None
    # 4. The shared history is in the channel's archive, as forwarded messages.
    page = await mam_query(hecate, to=channel)
    assert [inner_bodies(m) for m in page.forwarded] == [[body] for _, _, body, _ in shared]
    stamps = [
        m.xml.find(f"{{{FORWARD}}}forwarded/{{{DELAY}}}delay").get("stamp") for m in page.forwarded
    ]
    assert stamps == [stamp for *_, stamp in shared]
    # 5. The ad hoc channel is not listed.
    items = await hecate.plugin["xep_0030"].get_items(jid=SERVICE)
    assert channel not in {jid for jid, _, _ in items["disco_items"]["items"]}
