-- Archive feeds (MIX-PAM): a local participant's archive shows the channel's
-- archive for the span of entries committed while the participant was
-- subscribed to its messages, so a channel message is stored once whatever
-- the number of participants.
--
-- Spans are bounds on archive_entries.seq, which must therefore never be
-- reused: the table is rebuilt with AUTOINCREMENT (same columns, order and
-- indexes).
CREATE TABLE archive_entries_v8 (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,  -- insertion order, never reused
    id TEXT NOT NULL UNIQUE,      -- the stanza-id / RSM UID shown to the owner
    owner TEXT NOT NULL,          -- bare JID of the archive
    message INTEGER NOT NULL REFERENCES messages (seq) ON DELETE CASCADE,
    with_jid TEXT NOT NULL,       -- bare JID of the other party
    with_resource TEXT,           -- its resource; for a channel's entry, the sender's participant id
    direction TEXT NOT NULL CHECK (direction IN ('in', 'out')),
    ts INTEGER NOT NULL
);

INSERT INTO archive_entries_v8 (seq, id, owner, message, with_jid, with_resource, direction, ts)
    SELECT seq, id, owner, message, with_jid, with_resource, direction, ts FROM archive_entries;

DROP TABLE archive_entries;

ALTER TABLE archive_entries_v8 RENAME TO archive_entries;

CREATE INDEX archive_entries_owner ON archive_entries (owner, ts, seq);
CREATE INDEX archive_entries_with ON archive_entries (owner, with_jid, ts, seq);
CREATE INDEX archive_entries_message ON archive_entries (message);
CREATE INDEX archive_entries_owner_seq ON archive_entries (owner, seq);

CREATE TABLE archive_feeds (
    owner TEXT NOT NULL,          -- bare JID of the archive showing the feed
    feed TEXT NOT NULL,           -- bare JID of the archive shown (a channel)
    from_seq INTEGER NOT NULL,    -- first archive_entries.seq shown
    to_seq INTEGER,               -- first seq no longer shown; NULL while following
    from_count INTEGER NOT NULL,  -- the feed's archive_counts.entries at from_seq
    to_count INTEGER,             -- ... at to_seq
    PRIMARY KEY (owner, feed, from_seq)
) WITHOUT ROWID;

CREATE INDEX archive_feeds_feed ON archive_feeds (feed, owner);

-- Entries per archive, kept in the transaction that adds or removes them, so
-- the size of an archive (RSM <count/>) never needs a scan.
CREATE TABLE archive_counts (
    owner TEXT PRIMARY KEY,
    entries INTEGER NOT NULL
) WITHOUT ROWID;

INSERT INTO archive_counts (owner, entries)
    SELECT owner, COUNT(*) FROM archive_entries GROUP BY owner;
