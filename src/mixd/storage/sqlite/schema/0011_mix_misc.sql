-- MIX-MISC (XEP-0407): items of the channel's avatar nodes, and nicks
-- registered with a MIX service (one per user, unique by case-mapped key).
CREATE TABLE mix_node_items (
    channel TEXT NOT NULL REFERENCES mix_channels (jid) ON DELETE CASCADE,
    node TEXT NOT NULL,
    id TEXT NOT NULL,
    xml TEXT NOT NULL,            -- the item's payload
    updated INTEGER NOT NULL,     -- microseconds since the epoch, UTC
    PRIMARY KEY (channel, node, id)
) WITHOUT ROWID;

CREATE TABLE mix_registered_nicks (
    service TEXT NOT NULL,        -- the MIX domain
    jid TEXT NOT NULL,            -- the user's bare JID
    nick TEXT NOT NULL,
    nick_key TEXT NOT NULL,       -- case-mapped (RFC 8266), compared for conflicts
    PRIMARY KEY (service, jid),
    UNIQUE (service, nick_key)
) WITHOUT ROWID;

-- A user's channels (registering a nick renames the user in each).
CREATE INDEX mix_participants_user ON mix_participants (jid);
