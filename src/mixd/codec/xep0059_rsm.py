"""XEP-0059 Result Set Management 1.0: the `<set/>` element of requests and answers.

A request's `<max/>` and `<index/>` must be non-negative integers (anything
else is a CodecError, i.e. `bad-request`); how big a page may really be is the
service's decision, not the codec's. `before` is `None` when absent and `""`
for an empty `<before/>` (the last page).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Self

from mixd import ns as NS
from mixd.codec.stanza import CodecError
from mixd.xml.element import Element

# Digits beyond this are still a valid (huge) number: services clamp it.
_MAX_DIGITS = 18
HUGE = 10**_MAX_DIGITS


def _non_negative(text: str, what: str) -> int:
    digits = text.strip()
    if not digits or not digits.isascii() or not digits.isdigit():
        raise CodecError(f"RSM <{what}/> must be a non-negative integer")
    return HUGE if len(digits) > _MAX_DIGITS else int(digits)


@dataclass(frozen=True, slots=True)
class RsmRequest:
    max: int | None = None
    after: str | None = None
    before: str | None = None  # "" = the last page
    index: int | None = None

    @classmethod
    def decode(cls, element: Element) -> Self:
        max_el = element.find(NS.RSM, "max")
        index_el = element.find(NS.RSM, "index")
        after_el = element.find(NS.RSM, "after")
        before_el = element.find(NS.RSM, "before")
        after = None if after_el is None else after_el.text
        if after == "":
            raise CodecError("RSM <after/> needs an id")
        return cls(
            max=None if max_el is None else _non_negative(max_el.text, "max"),
            after=after,
            before=None if before_el is None else before_el.text,
            index=None if index_el is None else _non_negative(index_el.text, "index"),
        )

    def encode(self) -> Element:
        el = Element(NS.RSM, "set")
        if self.max is not None:
            el.add_text_child(NS.RSM, "max", str(self.max))
        if self.after is not None:
            el.add_text_child(NS.RSM, "after", self.after)
        if self.before is not None:
            before = el.add(NS.RSM, "before")
            if self.before:
                before.children.append(self.before)
        if self.index is not None:
            el.add_text_child(NS.RSM, "index", str(self.index))
        return el


@dataclass(frozen=True, slots=True)
class RsmResult:
    """What a page holds: first/last UIDs (absent on an empty page), the index
    of the first item in the full result set, and the full set's size."""

    first: str | None = None
    last: str | None = None
    first_index: int | None = None
    count: int | None = None

    @classmethod
    def decode(cls, element: Element) -> Self:
        first_el = element.find(NS.RSM, "first")
        count_el = element.find(NS.RSM, "count")
        index = None if first_el is None else first_el.get("index")
        return cls(
            first=None if first_el is None else first_el.text,
            last=element.find_text(NS.RSM, "last"),
            first_index=None if index is None else _non_negative(index, "first index"),
            count=None if count_el is None else _non_negative(count_el.text, "count"),
        )

    def encode(self) -> Element:
        el = Element(NS.RSM, "set")
        if self.first is not None:
            first = el.add_text_child(NS.RSM, "first", self.first)
            if self.first_index is not None:
                first.set("index", str(self.first_index))
        if self.last is not None:
            el.add_text_child(NS.RSM, "last", self.last)
        if self.count is not None:
            el.add_text_child(NS.RSM, "count", str(self.count))
        return el
