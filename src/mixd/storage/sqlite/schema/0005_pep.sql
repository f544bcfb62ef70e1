-- Personal eventing (XEP-0163): each account's nodes with their
-- configuration, and the items they keep; and each account's vCard-temp
-- (XEP-0054). Everything belongs to an account and goes when it is deleted.
CREATE TABLE pep_nodes (
    id INTEGER PRIMARY KEY,
    host TEXT NOT NULL,
    username TEXT NOT NULL,
    node TEXT NOT NULL,
    access_model TEXT NOT NULL
        CHECK (access_model IN ('open', 'presence', 'roster', 'whitelist')),
    max_items INTEGER CHECK (max_items IS NULL OR max_items >= 0),  -- NULL: "max"
    persist_items INTEGER NOT NULL CHECK (persist_items IN (0, 1)),
    send_last TEXT NOT NULL CHECK (send_last IN ('never', 'on_sub', 'on_sub_and_presence')),
    roster_groups TEXT NOT NULL,  -- JSON array of group names
    UNIQUE (host, username, node),
    FOREIGN KEY (host, username) REFERENCES accounts (host, username)
        ON DELETE CASCADE
);

CREATE TABLE pep_items (
    seq INTEGER PRIMARY KEY,      -- publication order: higher is newer
    node_id INTEGER NOT NULL REFERENCES pep_nodes (id) ON DELETE CASCADE,
    item_id TEXT NOT NULL,
    payload TEXT NOT NULL,        -- serialized payload element, '' for none
    published TEXT NOT NULL,      -- ISO 8601 with offset
    publisher TEXT NOT NULL,      -- full JID of the publishing resource
    UNIQUE (node_id, item_id)
);

CREATE INDEX pep_items_node ON pep_items (node_id, seq);

CREATE TABLE vcards (
    host TEXT NOT NULL,
    username TEXT NOT NULL,
    vcard TEXT NOT NULL,
    PRIMARY KEY (host, username),
    FOREIGN KEY (host, username) REFERENCES accounts (host, username)
        ON DELETE CASCADE
) WITHOUT ROWID;
