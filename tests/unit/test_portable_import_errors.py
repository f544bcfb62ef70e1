"""A malformed or hostile dump is refused with an error naming the problem,
and nothing of it reaches the target: the whole document is checked before
the first write."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from mixd.app import stores
from mixd.portable.command import dump_store
from mixd.portable.format import DumpError
from mixd.portable.importer import Importer
from mixd.storage.sqlite.database import SQLiteDatabase
from tests.portable_data import HOST, SERVICES, Backend, exported, memory_backend, populate


@pytest.fixture
async def document() -> str:
    source = memory_backend()
    await populate(source.stores, source.dump)
    return await exported(source)


@pytest.fixture
async def target(tmp_path: Path) -> AsyncIterator[Backend]:
    db = SQLiteDatabase(tmp_path / "new.sqlite")
    await db.open()
    try:
        yield Backend(stores(db), dump_store(db))
    finally:
        await db.close()


async def refused(target: Backend, text: str | bytes) -> str:
    data = text.encode() if isinstance(text, str) else text
    importer = Importer(target.stores, target.dump, frozenset({HOST}), SERVICES)
    await importer.check_target()
    with pytest.raises(DumpError) as caught:
        await importer.validate(io.BytesIO(data))
    # The first pass wrote nothing.
    assert await target.dump.account_hosts() == []
    assert await target.dump.channel_services() == []
    assert await target.dump.archive_owners(None, 1) == []
    return str(caught.value)


def before_end(document: str, record: str) -> str:
    """`record` added as the document's last record, after everything valid."""
    return document.replace("</server-data>", record + "</server-data>")


def in_last_user(document: str, record: str) -> str:
    head, _, tail = document.rpartition("</user>")
    return head + record + "</user>" + tail


async def test_not_xml(target: Backend) -> None:
    assert "malformed XML" in await refused(target, b"\x00\xffnot xml at all")


async def test_truncated_document(target: Backend, document: str) -> None:
    message = await refused(target, document[: len(document) * 2 // 3])
    assert "malformed XML" in message or "ends before" in message


async def test_wrong_root(target: Backend) -> None:
    assert "expected <server-data" in await refused(target, "<stream xmlns='x'/>")


async def test_entity_expansion_is_refused(target: Backend) -> None:
    bomb = (
        '<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "aaaaaaaaaa">'
        '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
        "<server-data xmlns='urn:xmpp:pie:0'>&b;</server-data>"
    )
    assert "DOCTYPE is not allowed" in await refused(target, bomb)


async def test_unknown_element_at_the_end(target: Backend, document: str) -> None:
    message = await refused(target, in_last_user(document, "<shoe xmlns='urn:example'/>"))
    assert "unexpected <shoe xmlns='urn:example'>" in message
    assert message.startswith("line ")


async def test_unknown_container_content(target: Backend, document: str) -> None:
    message = await refused(target, before_end(document, "<note xmlns='urn:example'/>"))
    assert "unexpected <note" in message


async def test_huge_attribute(target: Backend, document: str) -> None:
    huge = "x" * (2 * 1024 * 1024)
    message = await refused(
        target, in_last_user(document, f"<vCard xmlns='vcard-temp' a='{huge}'/>")
    )
    assert "attribute 'a' is too long" in message


async def test_deep_nesting(target: Backend, document: str) -> None:
    deep = "<vCard xmlns='vcard-temp'>" + "<a>" * 100 + "</a>" * 100 + "</vCard>"
    assert "nested too deep" in await refused(target, in_last_user(document, deep))


async def test_bad_values(target: Backend, document: str) -> None:
    bad_salt = document.replace("<salt>", "<salt>!!", 1)
    assert "salt: not base64" in await refused(target, bad_salt)
    bad_jid = document.replace(
        'jid="bob@example.org" subscription', 'jid="Bob@Example.org" subscription'
    )
    assert "not a normalised bare JID" in await refused(target, bad_jid)
    bad_time = document.replace('ts="1700000000000000"', 'ts="soon"', 1)
    assert "expected an integer" in await refused(target, bad_time)


async def test_host_not_served_by_the_target(target: Backend, document: str) -> None:
    other = document.replace('<host jid="example.org">', '<host jid="elsewhere.example">')
    assert "host elsewhere.example is not served" in await refused(target, other)


async def test_duplicate_account(target: Backend, document: str) -> None:
    start = document.index('<user name="carol">')
    carol = document[start : document.index("</user>", start) + len("</user>")]
    assert "carol@example.org appears twice" in await refused(
        target, document.replace(carol, carol + carol)
    )


async def test_missing_header(target: Backend, document: str) -> None:
    headless = document.replace('<export xmlns="urn:mixd:pie:0" version="1"/>', "")
    assert "must begin with mixd's <export" in await refused(target, headless)
    future = document.replace('version="1"', 'version="9"', 1)
    assert "unsupported dump version '9'" in await refused(target, future)


async def test_huge_tag_is_refused_before_it_ends(target: Backend, document: str) -> None:
    # A name that never ends: refused once it exceeds the limit, not buffered.
    endless = document[: document.index("<user")] + "<" + "n" * (9 * 1024 * 1024)
    assert "a tag is too large" in await refused(target, endless)


async def test_huge_record(target: Backend, document: str) -> None:
    body = "x" * (1024 * 1024)
    huge = "<vCard xmlns='vcard-temp'>" + f"<N>{body}</N>" * 65 + "</vCard>"
    assert "record too large" in await refused(target, in_last_user(document, huge))
