-- MIX channels (XEP-0369) and their participants. A channel's messages live
-- in the archive (owner = the channel's bare JID) and are not removed here.
CREATE TABLE mix_channels (
    jid TEXT PRIMARY KEY,         -- bare JID: name@service
    service TEXT NOT NULL,        -- the domain part of jid, for listing
    adhoc INTEGER NOT NULL CHECK (adhoc IN (0, 1)),
    created INTEGER NOT NULL,     -- microseconds since the epoch, UTC
    owners TEXT NOT NULL,         -- JSON array of bare JIDs, sorted
    secret BLOB NOT NULL,         -- keys stable participant ids
    info_name TEXT,
    info_description TEXT,
    info_contact TEXT NOT NULL,   -- JSON array of JIDs, sorted
    info_updated INTEGER NOT NULL,
    config TEXT NOT NULL          -- JSON object of text settings
) WITHOUT ROWID;

-- Listing skips ad hoc channels and pages by jid.
CREATE INDEX mix_channels_service ON mix_channels (service, adhoc, jid);

CREATE TABLE mix_participants (
    channel TEXT NOT NULL REFERENCES mix_channels (jid) ON DELETE CASCADE,
    jid TEXT NOT NULL,            -- the user's bare JID
    id TEXT NOT NULL,             -- stable participant id
    nick TEXT NOT NULL,
    nodes TEXT NOT NULL,          -- JSON array of subscribed nodes, sorted
    joined INTEGER NOT NULL,      -- microseconds since the epoch, UTC
    PRIMARY KEY (channel, jid),
    UNIQUE (channel, nick),
    UNIQUE (channel, id)
) WITHOUT ROWID;

CREATE INDEX mix_participants_joined ON mix_participants (channel, joined, jid);
