-- Accounts and their SCRAM credentials (never passwords).
-- Text that is ordered or compared by range uses the "C" collation, so it
-- sorts by code point whatever the database's default collation is.
CREATE TABLE accounts (
    host TEXT COLLATE "C" NOT NULL,
    username TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (host, username)
);

CREATE TABLE account_credentials (
    host TEXT COLLATE "C" NOT NULL,
    username TEXT COLLATE "C" NOT NULL,
    mechanism TEXT NOT NULL,
    position INTEGER NOT NULL,
    salt BYTEA NOT NULL,
    stored_key BYTEA NOT NULL,
    server_key BYTEA NOT NULL,
    iterations INTEGER NOT NULL,
    PRIMARY KEY (host, username, mechanism),
    FOREIGN KEY (host, username) REFERENCES accounts (host, username)
        ON DELETE CASCADE
);
