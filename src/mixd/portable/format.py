"""The dump document: XEP-0227's `<server-data>` with mixd's additions.

    <server-data xmlns='urn:xmpp:pie:0'>
      <export xmlns='urn:mixd:pie:0' version='1'/>
      <host jid='example.org'>
        <user name='alice'>           credentials, roster, offline, PEP, vCard,
          <archive xmlns='urn:xmpp:pie:0#mam'>  prefs, results, followers
        </user>
        <channel xmlns='urn:mixd:pie:0' jid='room@mix.example.org'>
          settings, participants, allowed/banned, <archive xmlns=PIE_MAM>
        </channel>
      </host>
      <archive xmlns='urn:mixd:pie:0' owner='...'>  an archive nobody owns now
    </server-data>

Container elements (the ones above) hold records; a record is every other
element and is read whole, so it must stay small. Stored stanzas go in as
XML, with `jabber:client` declared on their root where they need it.
"""

from __future__ import annotations

from datetime import datetime

from mixd import ns as NS

FORMAT_VERSION = "1"

# (namespace, name) of the elements whose children are records.
CONTAINERS = frozenset(
    {
        (NS.PIE, "server-data"),
        (NS.PIE, "host"),
        (NS.PIE, "user"),
        (NS.PIE_MAM, "archive"),
        (NS.MIXD_DUMP, "channel"),
        (NS.MIXD_DUMP, "archive"),
    }
)

PLACEHOLDER = "\x00"  # never in parsed XML: marks where a stored stanza goes


class DumpError(Exception):
    """The dump is not well-formed, breaks a limit, or says something mixd
    cannot store; the message names the place."""


def with_client_namespace(stored: str) -> str:
    """A stanza serialized for a `jabber:client` stream, made to stand alone
    anywhere: its root declares the namespace unless it declares its own.
    Our serializer escapes '>' in attribute values, so the first '>' ends
    the root's start tag."""
    start_tag = stored[: stored.index(">")]
    if ' xmlns="' in start_tag:
        return stored
    name_end = 1
    while name_end < len(start_tag) and start_tag[name_end] not in " /":
        name_end += 1
    return f'{stored[:name_end]} xmlns="{NS.CLIENT}"{stored[name_end:]}'


def parse_time(text: str | None, what: str) -> datetime:
    if text is None:
        raise DumpError(f"{what}: missing time")
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise DumpError(f"{what}: bad time {text!r}") from None
    if value.tzinfo is None:
        raise DumpError(f"{what}: time {text!r} has no offset")
    return value


def parse_int(text: str | None, what: str, *, minimum: int = 0) -> int:
    if text is None or not text.isascii() or not text.lstrip("-").isdigit() or len(text) > 20:
        raise DumpError(f"{what}: expected an integer, got {text!r}")
    value = int(text)
    if value < minimum:
        raise DumpError(f"{what}: {value} is below {minimum}")
    return value


def parse_bool(text: str | None, what: str) -> bool:
    if text in (None, "false", "0"):
        return False
    if text in ("true", "1"):
        return True
    raise DumpError(f"{what}: expected true or false, got {text!r}")


def required(value: str | None, what: str) -> str:
    if value is None or value == "":
        raise DumpError(f"missing {what}")
    return value
