-- MIX channels (XEP-0369) and their participants. A channel's messages live
-- in the archive (owner = the channel's bare JID) and are not removed here.
CREATE TABLE mix_channels (
    jid TEXT COLLATE "C" PRIMARY KEY,  -- bare JID: name@service
    service TEXT COLLATE "C" NOT NULL, -- the domain part of jid, for listing
    adhoc BOOLEAN NOT NULL,
    created BIGINT NOT NULL,      -- microseconds since the epoch, UTC
    owners TEXT[] NOT NULL,       -- bare JIDs, sorted
    secret BYTEA NOT NULL,        -- keys stable participant ids
    info_name TEXT,
    info_description TEXT,
    info_contact TEXT[] NOT NULL, -- JIDs, sorted
    info_updated BIGINT NOT NULL,
    config JSONB NOT NULL         -- object of text settings
);

-- Listing skips ad hoc channels and pages by jid.
CREATE INDEX mix_channels_service ON mix_channels (service, adhoc, jid);

CREATE TABLE mix_participants (
    channel TEXT COLLATE "C" NOT NULL REFERENCES mix_channels (jid) ON DELETE CASCADE,
    jid TEXT COLLATE "C" NOT NULL,  -- the user's bare JID
    id TEXT COLLATE "C" NOT NULL,   -- stable participant id
    nick TEXT COLLATE "C" NOT NULL,
    nodes TEXT[] NOT NULL,        -- subscribed nodes, sorted
    joined BIGINT NOT NULL,       -- microseconds since the epoch, UTC
    PRIMARY KEY (channel, jid),
    CONSTRAINT mix_participants_nick UNIQUE (channel, nick),
    CONSTRAINT mix_participants_id UNIQUE (channel, id)
);

CREATE INDEX mix_participants_joined ON mix_participants (channel, joined, jid);
