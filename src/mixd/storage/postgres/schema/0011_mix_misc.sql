-- MIX-MISC (XEP-0407): items of the channel's avatar nodes, and nicks
-- registered with a MIX service (one per user, unique by case-mapped key).
CREATE TABLE mix_node_items (
    channel TEXT COLLATE "C" NOT NULL REFERENCES mix_channels (jid) ON DELETE CASCADE,
    node TEXT COLLATE "C" NOT NULL,
    id TEXT COLLATE "C" NOT NULL,
    xml TEXT NOT NULL,            -- the item's payload
    updated BIGINT NOT NULL,      -- microseconds since the epoch, UTC
    PRIMARY KEY (channel, node, id)
);

CREATE TABLE mix_registered_nicks (
    service TEXT COLLATE "C" NOT NULL,  -- the MIX domain
    jid TEXT COLLATE "C" NOT NULL,      -- the user's bare JID
    nick TEXT COLLATE "C" NOT NULL,
    nick_key TEXT COLLATE "C" NOT NULL, -- case-mapped (RFC 8266), compared for conflicts
    PRIMARY KEY (service, jid),
    CONSTRAINT mix_registered_nicks_key UNIQUE (service, nick_key)
);

-- A user's channels (registering a nick renames the user in each).
CREATE INDEX mix_participants_user ON mix_participants (jid);
