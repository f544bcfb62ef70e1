"""XEP-0115 Entity Capabilities 1.6.0: the <c/> element and the
verification string that the `ver` hash is computed over (section 5.1)."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass

from mixd import ns as NS
from mixd.xml.element import Element

# Hash names from the IANA registry that XEP-0115 uses, to hashlib names.
HASHES = {"sha-1": "sha1", "sha-224": "sha224", "sha-256": "sha256", "sha-384": "sha384",
          "sha-512": "sha512"}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Caps:
    hash: str
    node: str
    ver: str


def find_caps(presence: Element) -> Caps | None:
    c = presence.find(NS.CAPS, "c")
    if c is None:
        return None
    hash_name, node, ver = c.get("hash"), c.get("node"), c.get("ver")
    if not hash_name or not node or not ver:
        return None  # legacy (pre-1.5) caps carry no hash: not cacheable by ver
    return Caps(hash_name, node, ver)


def verification_string(info: Element) -> str | None:
    """Section 5.1; None when the disco#info is ill-formed for caps (5.4)."""
    identities = []
    for identity in info.find_all(NS.DISCO_INFO, "identity"):
        lang = identity.get("{" + NS.XML + "}lang") or ""
        identities.append(
            "/".join(
                (
                    identity.get("category") or "",
                    identity.get("type") or "",
                    lang,
                    identity.get("name") or "",
                )
            )
        )
    features = [f.get("var") or "" for f in info.find_all(NS.DISCO_INFO, "feature")]
    if len(set(identities)) != len(identities) or len(set(features)) != len(features):
        return None
    out = [f"{i}<" for i in sorted(identities)] + [f"{f}<" for f in sorted(features)]
    forms = []
    for form in info.find_all(NS.DATA_FORMS, "x"):
        fields = {}
        form_type = None
        for field in form.find_all(NS.DATA_FORMS, "field"):
            var = field.get("var") or ""
            values = sorted(v.text for v in field.find_all(NS.DATA_FORMS, "value"))
            if var == "FORM_TYPE":
                form_type = values[0] if values else ""
            else:
                fields[var] = values
        if form_type is None:
            continue  # forms without FORM_TYPE are ignored (section 5.4)
        text = f"{form_type}<"
        for var in sorted(fields):
            text += f"{var}<" + "".join(f"{v}<" for v in fields[var])
        forms.append((form_type, text))
    if len({t for t, _ in forms}) != len(forms):
        return None
    out += [text for _, text in sorted(forms)]
    return "".join(out)


def compute_ver(info: Element, hash_name: str) -> str | None:
    algorithm = HASHES.get(hash_name)
    text = verification_string(info)
    if algorithm is None or text is None:
        return None
    digest = hashlib.new(algorithm, text.encode("utf-8")).digest()
    return base64.b64encode(digest).decode()
