"""Every XML namespace mixd uses, written once.

Code elsewhere imports these names; a namespace literal anywhere else is a bug
waiting for a typo.
"""

from typing import Final

XML: Final = "http://www.w3.org/XML/1998/namespace"
STREAM: Final = "http://etherx.jabber.org/streams"
CLIENT: Final = "jabber:client"
COMPONENT: Final = "jabber:component:accept"  # XEP-0114
SERVER: Final = "jabber:server"
STREAMS_ERR: Final = "urn:ietf:params:xml:ns:xmpp-streams"
STANZAS_ERR: Final = "urn:ietf:params:xml:ns:xmpp-stanzas"
TLS: Final = "urn:ietf:params:xml:ns:xmpp-tls"
SASL: Final = "urn:ietf:params:xml:ns:xmpp-sasl"
BIND: Final = "urn:ietf:params:xml:ns:xmpp-bind"
SESSION: Final = "urn:ietf:params:xml:ns:xmpp-session"
COMPRESS: Final = "http://jabber.org/protocol/compress"
STREAM_LIMITS: Final = "urn:xmpp:stream-limits:0"
XMPP_ERRORS: Final = "urn:xmpp:errors"  # XEP-0205 application conditions

PING: Final = "urn:xmpp:ping"
DISCO_INFO: Final = "http://jabber.org/protocol/disco#info"
DISCO_ITEMS: Final = "http://jabber.org/protocol/disco#items"
DATA_FORMS: Final = "jabber:x:data"
VERSION: Final = "jabber:iq:version"
DELAY: Final = "urn:xmpp:delay"
MSGOFFLINE: Final = "msgoffline"  # XEP-0160 disco feature
SM: Final = "urn:xmpp:sm:3"
CARBONS: Final = "urn:xmpp:carbons:2"
FORWARD: Final = "urn:xmpp:forward:0"
HINTS: Final = "urn:xmpp:hints"
# Message Archive Management (XEP-0313) and what it builds on.
MAM: Final = "urn:xmpp:mam:2"
MAM_EXTENDED: Final = "urn:xmpp:mam:2#extended"
RSM: Final = "http://jabber.org/protocol/rsm"
SID: Final = "urn:xmpp:sid:0"
XDATA_VALIDATE: Final = "http://jabber.org/protocol/xdata-validate"
# Payloads that make a message worth archiving even without a <body/>.
OMEMO_LEGACY: Final = "eu.siacs.conversations.axolotl"
OMEMO: Final = "urn:xmpp:omemo:2"
OPENPGP: Final = "urn:xmpp:openpgp:0"
REACTIONS: Final = "urn:xmpp:reactions:0"
RETRACT: Final = "urn:xmpp:message-retract:1"
# Roster and presence subscriptions (RFC 6121).
ROSTER: Final = "jabber:iq:roster"
ROSTER_VER: Final = "urn:xmpp:features:rosterver"
PRE_APPROVAL: Final = "urn:xmpp:features:pre-approval"
REGISTER: Final = "jabber:iq:register"
REGISTER_FEATURE: Final = "http://jabber.org/features/iq-register"
CAPS: Final = "http://jabber.org/protocol/caps"
# MIX (XEP-0369 and family).
MIX_CORE: Final = "urn:xmpp:mix:core:1"
MIX_CORE_0: Final = "urn:xmpp:mix:core:0"
MIX_SEARCHABLE: Final = "urn:xmpp:mix:core:1#searchable"
MIX_CREATE_CHANNEL: Final = "urn:xmpp:mix:core:1#create-channel"
MIX_NODE_MESSAGES: Final = "urn:xmpp:mix:nodes:messages"
MIX_NODE_PARTICIPANTS: Final = "urn:xmpp:mix:nodes:participants"
MIX_NODE_INFO: Final = "urn:xmpp:mix:nodes:info"
MIX_NODE_PRESENCE: Final = "urn:xmpp:mix:nodes:presence"
MIX_PRESENCE: Final = "urn:xmpp:mix:presence:0"
MIX_NODE_CONFIG: Final = "urn:xmpp:mix:nodes:config"
MIX_NODE_ALLOWED: Final = "urn:xmpp:mix:nodes:allowed"
MIX_NODE_BANNED: Final = "urn:xmpp:mix:nodes:banned"
MIX_NODE_JIDMAP: Final = "urn:xmpp:mix:nodes:jidmap"
MIX_ANON: Final = "urn:xmpp:mix:anon:0"
MIX_NODE_AVATAR: Final = "urn:xmpp:avatar:data"
MIX_NODE_AVATAR_META: Final = "urn:xmpp:avatar:metadata"
MIX_ADMIN: Final = "urn:xmpp:mix:admin:0"
MIX_MISC: Final = "urn:xmpp:mix:misc:0"
MIX_MISC_NICK_REGISTER: Final = "urn:xmpp:mix:misc:0#nick-register"
# Ad-hoc commands (XEP-0050).
COMMANDS: Final = "http://jabber.org/protocol/commands"
PUBSUB: Final = "http://jabber.org/protocol/pubsub"
PUBSUB_EVENT: Final = "http://jabber.org/protocol/pubsub#event"
PUBSUB_ERRORS: Final = "http://jabber.org/protocol/pubsub#errors"
# Personal Eventing (XEP-0163 over XEP-0060) and vCard-temp (XEP-0054).
PUBSUB_OWNER: Final = "http://jabber.org/protocol/pubsub#owner"
PUBSUB_PUBLISH_OPTIONS: Final = "http://jabber.org/protocol/pubsub#publish-options"
PUBSUB_NODE_CONFIG: Final = "http://jabber.org/protocol/pubsub#node_config"
VCARD: Final = "vcard-temp"
MIX_PAM: Final = "urn:xmpp:mix:pam:2"
MIX_PAM_0: Final = "urn:xmpp:mix:pam:0"
MIX_PAM_ARCHIVE: Final = "urn:xmpp:mix:pam:2#archive"
MIX_ROSTER: Final = "urn:xmpp:mix:roster:0"
# Multi-User Chat (XEP-0045), the MUC face of MIX channels (XEP-0408), occupant ids (XEP-0421).
MUC: Final = "http://jabber.org/protocol/muc"
MUC_USER: Final = "http://jabber.org/protocol/muc#user"
MUC_ROOMINFO: Final = "http://jabber.org/protocol/muc#roominfo"
MUC_ADMIN: Final = "http://jabber.org/protocol/muc#admin"
MUC_OWNER: Final = "http://jabber.org/protocol/muc#owner"
MUC_ROOMCONFIG: Final = "http://jabber.org/protocol/muc#roomconfig"
X_CONFERENCE: Final = "jabber:x:conference"  # XEP-0249 direct invitations
MUC_STABLE_ID: Final = "http://jabber.org/protocol/muc#stable_id"
MUC_SELF_PING: Final = "http://jabber.org/protocol/muc#self-ping-optimization"
MIX_MUC: Final = "urn:xmpp:mix:muc:0"
OCCUPANT_ID: Final = "urn:xmpp:occupant-id:0"
# Blocking Command (XEP-0191).
BLOCKING: Final = "urn:xmpp:blocking"
BLOCKING_ERRORS: Final = "urn:xmpp:blocking:errors"
# Portable import/export (XEP-0227) and mixd's own parts of a dump.
PIE: Final = "urn:xmpp:pie:0"
PIE_SCRAM: Final = "urn:xmpp:pie:0#scram"
PIE_MAM: Final = "urn:xmpp:pie:0#mam"
MIXD_DUMP: Final = "urn:mixd:pie:0"
