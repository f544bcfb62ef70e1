"""MIX-ADMIN through XEP-0050 ad-hoc commands (slixmpp's xep_0050 client):
create, configure, allowed/banned management and destroy, without PubSub."""

from __future__ import annotations

from typing import Any

import pytest
from slixmpp.exceptions import IqError

from tests.helpers import TIMEOUT, ServerHandle
from tests.mix_client import SERVICE, iq, join, mix_client

COMMANDS = "http://jabber.org/protocol/commands"
XDATA = "jabber:x:data"
CHANNEL = f"coven@{SERVICE}"


def command(node: str, *, sessionid: str | None = None, action: str | None = None,
            fields: dict[str, tuple[str, ...]] | None = None) -> str:  # fmt: skip
    attrs = f"node='{node}'"
    if sessionid:
        attrs += f" sessionid='{sessionid}'"
    if action:
        attrs += f" action='{action}'"
    form = ""
    if fields is not None:
        form = (
            f"<x xmlns='{XDATA}' type='submit'>"
            + "".join(
                f"<field var='{var}'>" + "".join(f"<value>{v}</value>" for v in values) + "</field>"
                for var, values in fields.items()
            )
            + "</x>"
        )
    return f"<command xmlns='{COMMANDS}' {attrs}>{form}</command>"


async def run(xmpp: Any, to: str, node: str, fields: dict[str, tuple[str, ...]]) -> Any:
    """Execute a command, check the form it offers, submit `fields`."""
    first = await iq(xmpp, to, command(node))
    started = first.xml.find(f"{{{COMMANDS}}}command")
    assert started.get("status") == "executing"
    assert started.find(f"{{{COMMANDS}}}actions/{{{COMMANDS}}}complete") is not None
    assert started.find(f"{{{XDATA}}}x").get("type") == "form"
    sid = started.get("sessionid")
    done = await iq(xmpp, to, command(node, sessionid=sid, action="complete", fields=fields))
    finished = done.xml.find(f"{{{COMMANDS}}}command")
    assert finished.get("status") == "completed"
    return finished


def form_values(result: Any) -> dict[str, list[str]]:
    form = result.xml.find(f".//{{{XDATA}}}x")
    return {
        f.get("var"): [v.text or "" for v in f.findall(f"{{{XDATA}}}value")]
        for f in form.findall(f"{{{XDATA}}}field")
    }


async def command_nodes(xmpp: Any, jid: str) -> list[str]:
    items = await xmpp.plugin["xep_0030"].get_items(jid=jid, node=COMMANDS, timeout=TIMEOUT)
    return sorted(item[1] for item in items["disco_items"]["items"])


@pytest.fixture
async def pair(server: ServerHandle) -> tuple[Any, Any]:
    await server.add_user("hag66@localhost", "pw-h")
    await server.add_user("hecate@localhost", "pw-e")
    return (
        await mix_client(server, "hag66@localhost/r", "pw-h"),
        await mix_client(server, "hecate@localhost/r", "pw-e"),
    )


async def test_create_configure_ban_destroy_by_commands(pair: tuple[Any, Any]) -> None:
    hag, hecate = pair
    info = await hag.plugin["xep_0030"].get_info(jid=SERVICE, timeout=TIMEOUT)
    assert COMMANDS in info["disco_info"]["features"]
    assert await command_nodes(hag, SERVICE) == ["create"]
    done = await run(hag, SERVICE, "create", {"channel": ("coven",)})
    assert done.findtext(f"{{{COMMANDS}}}note") == f"created {CHANNEL}"
    # The owner sees every channel command; hecate, not an administrator, none.
    assert await command_nodes(hag, CHANNEL) == ["banned", "configure", "destroy"]
    assert await command_nodes(hecate, CHANNEL) == []
    await join(hecate, CHANNEL, "top witch")
    # Configure: the form shows the configuration; the submission changes it.
    first = await iq(hag, CHANNEL, command("configure"))
    assert form_values(first)["Owner"] == ["hag66@localhost"]
    await run(
        hag,
        CHANNEL,
        "configure",
        {
            "FORM_TYPE": ("urn:xmpp:mix:admin:0",),
            "Administrator": ("hecate@localhost",),
            "Nodes Present": ("allowed", "banned", "participants", "information"),
        },
    )
    assert await command_nodes(hecate, CHANNEL) == ["allowed", "banned"]
    # The allowed list as one field: hecate (now an administrator) sets it.
    await run(hecate, CHANNEL, "allowed", {"entries": ("localhost", "x@elsewhere.example")})
    again = await iq(hecate, CHANNEL, command("allowed"))
    assert form_values(again)["entries"] == ["localhost", "x@elsewhere.example"]
    done = await run(hecate, CHANNEL, "allowed", {"entries": ("localhost",)})
    assert done.findtext(f"{{{COMMANDS}}}note") == "0 added, 1 removed"
    # The banned list likewise; PubSub shows what the command set.
    await run(hag, CHANNEL, "banned", {"entries": ("lear@localhost", "elsewhere.example")})
    result = await iq(
        hag,
        CHANNEL,
        "<pubsub xmlns='http://jabber.org/protocol/pubsub'>"
        "<items node='urn:xmpp:mix:nodes:banned'/></pubsub>",
        "get",
    )
    ids = [i.get("id") for i in result.xml.iter("{http://jabber.org/protocol/pubsub}item")]
    assert ids == ["elsewhere.example", "lear@localhost"]
    # Destroy needs the confirmation.
    with pytest.raises(IqError) as err:
        await run(hag, CHANNEL, "destroy", {"confirm": ("false",)})
    assert err.value.condition == "bad-request"
    await run(hag, CHANNEL, "destroy", {"confirm": ("true",)})
    with pytest.raises(IqError) as gone:
        await join(hecate, CHANNEL, "top witch")
    assert gone.value.condition == "item-not-found"


async def test_command_errors(pair: tuple[Any, Any]) -> None:
    hag, hecate = pair
    await run(hag, SERVICE, "create", {"channel": ("coven",)})
    with pytest.raises(IqError) as denied:
        await iq(hecate, CHANNEL, command("configure"))
    assert denied.value.condition == "forbidden"
    with pytest.raises(IqError) as unknown:
        await iq(hag, CHANNEL, command("no-such-command"))
    assert unknown.value.condition == "item-not-found"
    # A session id from another requester, or made up, is refused.
    first = await iq(hag, CHANNEL, command("configure"))
    sid = first.xml.find(f"{{{COMMANDS}}}command").get("sessionid")
    with pytest.raises(IqError) as forged:
        await iq(hag, CHANNEL, command("configure", sessionid="0-0", fields={}))
    assert forged.value.condition == "bad-request"
    assert forged.value.iq.xml.find(f".//{{{COMMANDS}}}bad-sessionid") is not None
    canceled = await iq(hag, CHANNEL, command("configure", sessionid=sid, action="cancel"))
    assert canceled.xml.find(f"{{{COMMANDS}}}command").get("status") == "canceled"
    # A bad value is refused naming the field, as through PubSub.
    with pytest.raises(IqError) as bad:
        await run(
            hag,
            CHANNEL,
            "configure",
            {"FORM_TYPE": ("urn:xmpp:mix:admin:0",), "Open Presence": ("perhaps",)},
        )
    assert bad.value.condition == "bad-request" and "Open Presence" in bad.value.text
    # An ad hoc channel when no name is given.
    done = await run(hag, SERVICE, "create", {"channel": ()})
    assert done.findtext(f"{{{COMMANDS}}}note").startswith("created ")
