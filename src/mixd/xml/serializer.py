"""Element -> XML text.

Elements are written with default-namespace declarations only where the
namespace changes, so a stanza written inside a `jabber:client` stream carries
no redundant `xmlns`.
"""

from __future__ import annotations

from mixd import ns as NS
from mixd.xml.element import Element

# CR is escaped so a reader's end-of-line normalisation cannot turn it into LF.
_TEXT_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;"})
# Attribute values are written in double quotes; whitespace characters are
# escaped so the reader's attribute-value normalisation cannot alter them.
_ATTR_ESCAPES = str.maketrans(
    {
        "&": "&amp;",
        "<": "&lt;",
        ">": "&gt;",
        '"': "&quot;",
        "'": "&apos;",  # stream headers are written with single quotes
        "\n": "&#10;",
        "\r": "&#13;",
        "\t": "&#9;",
    }
)


def escape_text(text: str) -> str:
    return text.translate(_TEXT_ESCAPES)


def escape_attr(value: str) -> str:
    return value.translate(_ATTR_ESCAPES)


def serialize(element: Element, default_ns: str = NS.CLIENT) -> str:
    """Serialize `element` as it would appear inside a stream whose default
    namespace is `default_ns`."""
    out: list[str] = []
    _write(element, default_ns, out)
    return "".join(out)


def _write(el: Element, parent_ns: str, out: list[str]) -> None:
    tag = el.name
    if el.ns == NS.STREAM:
        # The stream header binds the "stream" prefix; the default namespace
        # stays what it was.
        tag = "stream:" + tag
        own_ns = parent_ns
    else:
        own_ns = el.ns
    out.append("<")
    out.append(tag)
    if own_ns != parent_ns:
        out.append(' xmlns="')
        out.append(escape_attr(own_ns))
        out.append('"')
    if el.attrs:
        _write_attrs(el.attrs, out)
    if not el.children:
        out.append("/>")
        return
    out.append(">")
    for child in el.children:
        if isinstance(child, str):
            out.append(child.translate(_TEXT_ESCAPES))
        else:
            _write(child, own_ns, out)
    out.append("</")
    out.append(tag)
    out.append(">")


def _write_attrs(attrs: dict[str, str], out: list[str]) -> None:
    prefixes = 0
    for key, value in attrs.items():
        if key[0] != "{":
            out.append(f' {key}="{value.translate(_ATTR_ESCAPES)}"')
            continue
        uri, _, local = key[1:].rpartition("}")  # a URI may contain '}', a name not
        if uri == NS.XML:
            out.append(f' xml:{local}="{value.translate(_ATTR_ESCAPES)}"')
        else:
            prefixes += 1
            prefix = f"ns{prefixes}"
            out.append(
                f' xmlns:{prefix}="{escape_attr(uri)}"'
                f' {prefix}:{local}="{value.translate(_ATTR_ESCAPES)}"'
            )
