-- Rosters (RFC 6121 section 2) with the subscription state of Appendix A,
-- and the last unavailable presence that answers probes while offline.
-- Everything belongs to an account and goes when the account is deleted.
CREATE TABLE roster_versions (
    host TEXT COLLATE "C" NOT NULL,
    username TEXT COLLATE "C" NOT NULL,
    version BIGINT NOT NULL,
    PRIMARY KEY (host, username),
    FOREIGN KEY (host, username) REFERENCES accounts (host, username)
        ON DELETE CASCADE
);

CREATE TABLE roster_items (
    host TEXT COLLATE "C" NOT NULL,
    username TEXT COLLATE "C" NOT NULL,
    jid TEXT COLLATE "C" NOT NULL,  -- the contact's normalised bare JID
    name TEXT,
    subscription TEXT NOT NULL CHECK (subscription IN ('none', 'to', 'from', 'both')),
    ask BOOLEAN NOT NULL,
    pending_in BOOLEAN NOT NULL,
    approved BOOLEAN NOT NULL,
    request TEXT,  -- the stored subscription request while pending in
    listed BOOLEAN NOT NULL,
    PRIMARY KEY (host, username, jid),
    FOREIGN KEY (host, username) REFERENCES accounts (host, username)
        ON DELETE CASCADE
);

CREATE TABLE roster_groups (
    host TEXT COLLATE "C" NOT NULL,
    username TEXT COLLATE "C" NOT NULL,
    jid TEXT COLLATE "C" NOT NULL,
    position INTEGER NOT NULL,
    name TEXT NOT NULL,
    PRIMARY KEY (host, username, jid, position),
    FOREIGN KEY (host, username, jid) REFERENCES roster_items (host, username, jid)
        ON DELETE CASCADE
);

CREATE TABLE last_presence (
    host TEXT COLLATE "C" NOT NULL,
    username TEXT COLLATE "C" NOT NULL,
    stanza TEXT NOT NULL,
    stamp TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (host, username),
    FOREIGN KEY (host, username) REFERENCES accounts (host, username)
        ON DELETE CASCADE
);
