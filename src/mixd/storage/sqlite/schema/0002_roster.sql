-- Rosters (RFC 6121 section 2) with the subscription state of Appendix A,
-- and the last unavailable presence that answers probes while offline.
-- Everything belongs to an account and goes when the account is deleted.
CREATE TABLE roster_versions (
    host TEXT NOT NULL,
    username TEXT NOT NULL,
    version INTEGER NOT NULL,
    PRIMARY KEY (host, username),
    FOREIGN KEY (host, username) REFERENCES accounts (host, username)
        ON DELETE CASCADE
) WITHOUT ROWID;

CREATE TABLE roster_items (
    host TEXT NOT NULL,
    username TEXT NOT NULL,
    jid TEXT NOT NULL,  -- the contact's normalised bare JID
    name TEXT,
    subscription TEXT NOT NULL CHECK (subscription IN ('none', 'to', 'from', 'both')),
    ask INTEGER NOT NULL CHECK (ask IN (0, 1)),
    pending_in INTEGER NOT NULL CHECK (pending_in IN (0, 1)),
    approved INTEGER NOT NULL CHECK (approved IN (0, 1)),
    request TEXT,  -- the stored subscription request while pending in
    listed INTEGER NOT NULL CHECK (listed IN (0, 1)),
    PRIMARY KEY (host, username, jid),
    FOREIGN KEY (host, username) REFERENCES accounts (host, username)
        ON DELETE CASCADE
) WITHOUT ROWID;

CREATE TABLE roster_groups (
    host TEXT NOT NULL,
    username TEXT NOT NULL,
    jid TEXT NOT NULL,
    position INTEGER NOT NULL,
    name TEXT NOT NULL,
    PRIMARY KEY (host, username, jid, position),
    FOREIGN KEY (host, username, jid) REFERENCES roster_items (host, username, jid)
        ON DELETE CASCADE
) WITHOUT ROWID;

CREATE TABLE last_presence (
    host TEXT NOT NULL,
    username TEXT NOT NULL,
    stanza TEXT NOT NULL,
    stamp TEXT NOT NULL,
    PRIMARY KEY (host, username),
    FOREIGN KEY (host, username) REFERENCES accounts (host, username)
        ON DELETE CASCADE
) WITHOUT ROWID;
