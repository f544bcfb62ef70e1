"""MAM queries from a real slixmpp client, built with slixmpp's stanza API
(its `retrieve()` cannot send an empty `<before/>` or flip-page) and
collected the way its xep_0313 plugin does; every wait is bounded."""

from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Any

from slixmpp import ClientXMPP
from slixmpp.xmlstream.handler import Collector
from slixmpp.xmlstream.matcher import MatchXMLMask

from tests.helpers import TIMEOUT

MAM = "urn:xmpp:mam:2"
SID = "urn:xmpp:sid:0"
MAM_PLUGINS = ("xep_0030", "xep_0199", "xep_0004", "xep_0059", "xep_0297", "xep_0313")


@dataclass
class Page:
    results: list[Any]  # result <message/>s, in the order they arrived
    fin: Any  # the iq result

    @property
    def ids(self) -> list[str]:
        return [m["mam_result"]["id"] for m in self.results]

    @property
    def forwarded(self) -> list[Any]:
        return [m["mam_result"]["forwarded"]["stanza"] for m in self.results]

    @property
    def bodies(self) -> list[str]:
        return [str(m["body"]) for m in self.forwarded]

    @property
    def complete(self) -> bool:
        return self.fin["mam_fin"].xml.get("complete") in ("true", "1")

    def rsm(self, key: str) -> Any:
        return self.fin["mam_fin"]["rsm"][key]


async def mam_query(
    client: ClientXMPP,
    *,
    to: str | None = None,
    fields: dict[str, str | list[str]] | None = None,
    max: int | str | None = None,
    after: str | None = None,
    before: str | bool | None = None,  # True: an empty <before/> (the last page)
    index: int | None = None,
    flip: bool = False,
) -> Page:
    iq = client.make_iq_set(ito=to)
    queryid = iq["id"]
    iq["mam"]["queryid"] = queryid
    if fields is not None:
        form = iq["mam"]["form"]
        form["type"] = "submit"
        form.add_field(var="FORM_TYPE", ftype="hidden", value=MAM)
        for var, value in fields.items():
            ftype = "list-multi" if isinstance(value, list) else None
            form.add_field(var=var, ftype=ftype, value=value)
    rsm = iq["mam"]["rsm"]
    for key, value in (("max", max), ("after", after), ("index", index)):
        if value is not None:
            rsm[key] = str(value)
    if before is not None:
        rsm["before"] = before
    if flip:
        iq["mam"].xml.append(ET.Element(f"{{{MAM}}}flip-page"))
    mask = client.Message()
    origin = mask.xml.find(f"{{{SID}}}origin-id")
    if origin is not None:
        mask.xml.remove(origin)
    del mask["id"]
    del mask["lang"]
    mask["mam_result"]["queryid"] = queryid
    collector = Collector(f"mam-{queryid}", MatchXMLMask(str(mask)))
    client.register_handler(collector)
    try:
        fin = await iq.send(timeout=TIMEOUT)
    finally:
        results = collector.stop()
    return Page(results, fin)


def collect(client: ClientXMPP, count: int) -> asyncio.Future[list[Any]]:
    """The next `count` chat/normal messages with a body."""
    got: list[Any] = []
    done: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()

    def on_message(msg: Any) -> None:
        if msg["body"]:
            got.append(msg)
        if len(got) >= count and not done.done():
            done.set_result(got)

    client.add_event_handler("message", on_message)
    return done


def stanza_ids(msg: Any) -> list[tuple[str | None, str | None]]:
    return [(el.get("id"), el.get("by")) for el in msg.xml.findall(f"{{{SID}}}stanza-id")]
