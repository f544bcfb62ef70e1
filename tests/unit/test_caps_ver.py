"""XEP-0115 verification strings, checked against the spec's own examples
(sections 5.2 and 5.3)."""

from __future__ import annotations

from mixd.codec.xep0115_caps import compute_ver, find_caps, verification_string
from mixd.xml.fragment import parse_element

SIMPLE = """<query xmlns='http://jabber.org/protocol/disco#info'>
    <identity category='client' name='Exodus 0.9.1' type='pc'/>
    <feature var='http://jabber.org/protocol/caps'/>
    <feature var='http://jabber.org/protocol/disco#info'/>
    <feature var='http://jabber.org/protocol/disco#items'/>
    <feature var='http://jabber.org/protocol/muc'/>
  </query>"""

COMPLEX = """<query xmlns='http://jabber.org/protocol/disco#info'>
    <identity xml:lang='en' category='client' name='Psi 0.11' type='pc'/>
    <identity xml:lang='el' category='client' name='&#936; 0.11' type='pc'/>
    <feature var='http://jabber.org/protocol/caps'/>
    <feature var='http://jabber.org/protocol/disco#info'/>
    <feature var='http://jabber.org/protocol/disco#items'/>
    <feature var='http://jabber.org/protocol/muc'/>
    <x xmlns='jabber:x:data' type='result'>
      <field var='FORM_TYPE' type='hidden'><value>urn:xmpp:dataforms:softwareinfo</value></field>
      <field var='ip_version' type='text-multi'><value>ipv4</value><value>ipv6</value></field>
      <field var='os'><value>Mac</value></field>
      <field var='os_version'><value>10.5.1</value></field>
      <field var='software'><value>Psi</value></field>
      <field var='software_version'><value>0.11</value></field>
    </x>
  </query>"""


def test_simple_example() -> None:
    info = parse_element(SIMPLE)
    assert verification_string(info) == (
        "client/pc//Exodus 0.9.1<http://jabber.org/protocol/caps<"
        "http://jabber.org/protocol/disco#info<http://jabber.org/protocol/disco#items<"
        "http://jabber.org/protocol/muc<"
    )
    assert compute_ver(info, "sha-1") == "QgayPKawpkPSDYmwT/WM94uAlu0="


def test_complex_example_with_extended_form() -> None:
    assert compute_ver(parse_element(COMPLEX), "sha-1") == "q07IKJEyjvHSyhy//CH0CxmKi8w="


def test_duplicate_feature_is_rejected() -> None:
    bad = SIMPLE.replace("</query>", "<feature var='http://jabber.org/protocol/muc'/></query>")
    assert compute_ver(parse_element(bad), "sha-1") is None


def test_unknown_hash_is_not_trusted() -> None:
    assert compute_ver(parse_element(SIMPLE), "md5") is None


def test_find_caps_needs_hash_node_and_ver() -> None:
    presence = parse_element(
        "<presence><c xmlns='http://jabber.org/protocol/caps' hash='sha-1' "
        "node='http://example.org' ver='abc='/></presence>"
    )
    caps = find_caps(presence)
    assert caps is not None and (caps.hash, caps.node, caps.ver) == (
        "sha-1",
        "http://example.org",
        "abc=",
    )
    legacy = parse_element(
        "<presence><c xmlns='http://jabber.org/protocol/caps' node='n' ver='1.0'/></presence>"
    )
    assert find_caps(legacy) is None
