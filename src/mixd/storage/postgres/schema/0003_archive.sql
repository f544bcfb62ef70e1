-- Message archive (XEP-0313): each message stored once, referenced by one
-- entry per archive that holds it (sender, recipient, channel participants).
CREATE TABLE messages (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id TEXT COLLATE "C" NOT NULL UNIQUE,
    xml TEXT NOT NULL,
    ts BIGINT NOT NULL,           -- microseconds since the epoch, UTC
    sender TEXT COLLATE "C" NOT NULL,  -- bare JID
    type TEXT NOT NULL,
    origin_id TEXT COLLATE "C"    -- XEP-0359 origin-id, for de-duplication
);

CREATE INDEX messages_origin ON messages (sender, origin_id) WHERE origin_id IS NOT NULL;

CREATE TABLE archive_entries (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,  -- insertion order: ties on ts keep it
    id TEXT COLLATE "C" NOT NULL UNIQUE,  -- the stanza-id / RSM UID shown to the owner
    owner TEXT COLLATE "C" NOT NULL,      -- bare JID of the archive
    message BIGINT NOT NULL REFERENCES messages (seq) ON DELETE CASCADE,
    with_jid TEXT COLLATE "C" NOT NULL,   -- bare JID of the other party
    with_resource TEXT COLLATE "C",
    direction TEXT NOT NULL CHECK (direction IN ('in', 'out')),
    ts BIGINT NOT NULL
);

CREATE INDEX archive_entries_owner ON archive_entries (owner, ts, seq);
CREATE INDEX archive_entries_with ON archive_entries (owner, with_jid, ts, seq);
CREATE INDEX archive_entries_message ON archive_entries (message);

CREATE TABLE archive_prefs (
    owner TEXT COLLATE "C" PRIMARY KEY,
    default_mode TEXT NOT NULL CHECK (default_mode IN ('always', 'never', 'roster')),
    always TEXT[] NOT NULL,       -- JIDs, in the order given
    never TEXT[] NOT NULL
);
