-- Blocking Command (XEP-0191): the JIDs each account blocks, in any of the
-- four forms the spec matches. Goes when the account is deleted.
CREATE TABLE blocklist (
    host TEXT NOT NULL,
    username TEXT NOT NULL,
    jid TEXT NOT NULL,  -- normalised: user@domain[/resource] or domain[/resource]
    PRIMARY KEY (host, username, jid),
    FOREIGN KEY (host, username) REFERENCES accounts (host, username)
        ON DELETE CASCADE
) WITHOUT ROWID;
