-- Accounts and their SCRAM credentials (never passwords).
CREATE TABLE accounts (
    host TEXT NOT NULL,
    username TEXT NOT NULL,
    PRIMARY KEY (host, username)
) WITHOUT ROWID;

CREATE TABLE account_credentials (
    host TEXT NOT NULL,
    username TEXT NOT NULL,
    mechanism TEXT NOT NULL,
    position INTEGER NOT NULL,
    salt BLOB NOT NULL,
    stored_key BLOB NOT NULL,
    server_key BLOB NOT NULL,
    iterations INTEGER NOT NULL,
    PRIMARY KEY (host, username, mechanism),
    FOREIGN KEY (host, username) REFERENCES accounts (host, username)
        ON DELETE CASCADE
) WITHOUT ROWID;
