"""XEP-0004 Data Forms 2.13.2: typed forms with fields and a FORM_TYPE.

Only what services need to read submitted forms and to publish form
templates: fields with values, and the options a list field offers (sent,
not read back: a submitted form carries values only). An open list
(XEP-0122 `<validate><open/></validate>`) can be declared on a field.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Self

from mixd import ns as NS
from mixd.codec.stanza import CodecError
from mixd.xml.element import Element

FORM_TYPES = frozenset({"form", "submit", "cancel", "result"})
FIELD_TYPES = frozenset(
    {
        "boolean",
        "fixed",
        "hidden",
        "jid-multi",
        "jid-single",
        "list-multi",
        "list-single",
        "text-multi",
        "text-private",
        "text-single",
    }
)
MAX_FIELDS = 256  # a form is small; a bigger one is abuse
MAX_VALUES = 1024  # values of one field


@dataclass(frozen=True, slots=True)
class Field:
    var: str | None
    values: tuple[str, ...] = ()
    type: str | None = None
    label: str | None = None
    open: bool = False  # XEP-0122: values outside the options are allowed
    options: tuple[str, ...] = ()  # list-single / list-multi choices, in forms we send

    @property
    def value(self) -> str | None:
        """The first value, for single-valued fields."""
        return self.values[0] if self.values else None

    @classmethod
    def decode(cls, element: Element) -> Self:
        var, kind = element.get("var"), element.get("type")
        if kind is not None and kind not in FIELD_TYPES:
            raise CodecError(f"unknown data form field type {kind!r}")
        if var is None and kind != "fixed":
            raise CodecError("data form field without var")
        values = tuple(v.text for v in element.find_all(NS.DATA_FORMS, "value"))
        if len(values) > MAX_VALUES:
            raise CodecError("too many values in a data form field")
        is_open = False
        validate = element.find(NS.XDATA_VALIDATE, "validate")
        if validate is not None:
            is_open = validate.find(NS.XDATA_VALIDATE, "open") is not None
        return cls(var, values, kind, element.get("label"), is_open)

    def encode(self) -> Element:
        el = Element(NS.DATA_FORMS, "field")
        el.set("var", self.var)
        el.set("type", self.type)
        el.set("label", self.label)
        if self.open:
            validate = el.add(NS.XDATA_VALIDATE, "validate", {"datatype": "xs:string"})
            validate.add(NS.XDATA_VALIDATE, "open")
        for value in self.values:
            el.add_text_child(NS.DATA_FORMS, "value", value)
        for option in self.options:
            el.add(NS.DATA_FORMS, "option").add_text_child(NS.DATA_FORMS, "value", option)
        return el


@dataclass(frozen=True, slots=True)
class DataForm:
    type: str
    fields: tuple[Field, ...] = ()

    @property
    def form_type(self) -> str | None:
        """The hidden FORM_TYPE value (XEP-0068), if any."""
        field = self.field("FORM_TYPE")
        return None if field is None else field.value

    def field(self, var: str) -> Field | None:
        for field in self.fields:
            if field.var == var:
                return field
        return None

    @classmethod
    def with_type(cls, kind: str, form_type: str, fields: tuple[Field, ...]) -> Self:
        return cls(kind, (Field("FORM_TYPE", (form_type,), "hidden"), *fields))

    @classmethod
    def decode(cls, element: Element) -> Self:
        kind = element.get("type")
        if kind is None or kind not in FORM_TYPES:
            raise CodecError("data form needs a type of form, submit, cancel or result")
        children = element.find_all(NS.DATA_FORMS, "field")
        if len(children) > MAX_FIELDS:
            raise CodecError("too many data form fields")
        fields = tuple(Field.decode(child) for child in children)
        names = [f.var for f in fields if f.var is not None]
        if len(set(names)) != len(names):
            raise CodecError("a data form field var appears twice")
        return cls(kind, fields)

    def encode(self) -> Element:
        el = Element(NS.DATA_FORMS, "x", {"type": self.type})
        el.children.extend(field.encode() for field in self.fields)
        return el
