-- Archive feeds (MIX-PAM): a local participant's archive shows the channel's
-- archive for the span of entries committed while the participant was
-- subscribed to its messages, so a channel message is stored once whatever
-- the number of participants.
--
-- Spans are bounds on archive_entries.seq, which must therefore never be
-- reused: an identity column's sequence never gives a value twice, so the
-- table stays as it is (SQLite's migration 8 rebuilds it for AUTOINCREMENT).
CREATE INDEX archive_entries_owner_seq ON archive_entries (owner, seq);

CREATE TABLE archive_feeds (
    owner TEXT COLLATE "C" NOT NULL,  -- bare JID of the archive showing the feed
    feed TEXT COLLATE "C" NOT NULL,   -- bare JID of the archive shown (a channel)
    from_seq BIGINT NOT NULL,     -- first archive_entries.seq shown
    to_seq BIGINT,                -- first seq no longer shown; NULL while following
    PRIMARY KEY (owner, feed, from_seq)
);

CREATE INDEX archive_feeds_feed ON archive_feeds (feed, owner);
