"""A small XML element tree for stanzas.

Names are split into namespace and local name so handlers compare two short
strings instead of parsing Clark notation. Children keep mixed content (text and
elements in order) so a forwarded stanza leaves the server as it came in.
"""

from __future__ import annotations

from collections.abc import Iterator


class Element:
    __slots__ = ("attrs", "children", "name", "ns")

    def __init__(
        self,
        ns: str,
        name: str,
        attrs: dict[str, str] | None = None,
        children: list[Element | str] | None = None,
    ) -> None:
        self.ns = ns
        self.name = name
        # Namespaced attributes use Clark notation: "{uri}local".
        self.attrs: dict[str, str] = attrs if attrs is not None else {}
        self.children: list[Element | str] = children if children is not None else []

    def __repr__(self) -> str:
        return f"<Element {{{self.ns}}}{self.name} attrs={self.attrs!r}>"

    def is_(self, ns: str, name: str) -> bool:
        return self.name == name and self.ns == ns

    def get(self, attr: str, default: str | None = None) -> str | None:
        return self.attrs.get(attr, default)

    def set(self, attr: str, value: str | None) -> None:
        """Set an attribute, or remove it when value is None."""
        if value is None:
            self.attrs.pop(attr, None)
        else:
            self.attrs[attr] = value

    def append(self, child: Element | str) -> Element | str:
        self.children.append(child)
        return child

    def add(self, ns: str, name: str, attrs: dict[str, str] | None = None) -> Element:
        """Append a new child element and return it (for building trees)."""
        child = Element(ns, name, attrs)
        self.children.append(child)
        return child

    def add_text_child(self, ns: str, name: str, text: str) -> Element:
        child = self.add(ns, name)
        child.children.append(text)
        return child

    @property
    def elements(self) -> Iterator[Element]:
        return (c for c in self.children if isinstance(c, Element))

    def find(self, ns: str, name: str | None = None) -> Element | None:
        """First child element in `ns` (and with `name`, when given)."""
        for c in self.children:
            if isinstance(c, Element) and c.ns == ns and (name is None or c.name == name):
                return c
        return None

    def find_all(self, ns: str, name: str | None = None) -> list[Element]:
        return [
            c
            for c in self.children
            if isinstance(c, Element) and c.ns == ns and (name is None or c.name == name)
        ]

    def remove_all(self, ns: str, name: str | None = None) -> int:
        """Remove every matching child element; returns how many were removed."""
        kept = [
            c
            for c in self.children
            if not (isinstance(c, Element) and c.ns == ns and (name is None or c.name == name))
        ]
        removed = len(self.children) - len(kept)
        self.children = kept
        return removed

    @property
    def text(self) -> str:
        """Concatenated character data directly inside this element."""
        return "".join(c for c in self.children if isinstance(c, str))

    def find_text(self, ns: str, name: str) -> str | None:
        child = self.find(ns, name)
        return None if child is None else child.text

    def copy(self) -> Element:
        """Deep copy: stanzas are mutated per recipient only on copies."""
        return Element(
            self.ns,
            self.name,
            dict(self.attrs),
            [c.copy() if isinstance(c, Element) else c for c in self.children],
        )
