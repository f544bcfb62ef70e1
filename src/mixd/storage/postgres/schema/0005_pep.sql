-- Personal eventing (XEP-0163): each account's nodes with their
-- configuration, and the items they keep; and each account's vCard-temp
-- (XEP-0054). Everything belongs to an account and goes when it is deleted.
CREATE TABLE pep_nodes (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    host TEXT COLLATE "C" NOT NULL,
    username TEXT COLLATE "C" NOT NULL,
    node TEXT COLLATE "C" NOT NULL,
    access_model TEXT NOT NULL
        CHECK (access_model IN ('open', 'presence', 'roster', 'whitelist')),
    max_items INTEGER CHECK (max_items IS NULL OR max_items >= 0),  -- NULL: "max"
    persist_items BOOLEAN NOT NULL,
    send_last TEXT NOT NULL CHECK (send_last IN ('never', 'on_sub', 'on_sub_and_presence')),
    roster_groups TEXT[] NOT NULL,  -- group names, in the order given
    UNIQUE (host, username, node),
    FOREIGN KEY (host, username) REFERENCES accounts (host, username)
        ON DELETE CASCADE
);

CREATE TABLE pep_items (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,  -- publication order: higher is newer
    node_id BIGINT NOT NULL REFERENCES pep_nodes (id) ON DELETE CASCADE,
    item_id TEXT COLLATE "C" NOT NULL,
    payload TEXT NOT NULL,        -- serialized payload element, '' for none
    published TIMESTAMPTZ NOT NULL,
    publisher TEXT NOT NULL,      -- full JID of the publishing resource
    UNIQUE (node_id, item_id)
);

CREATE INDEX pep_items_node ON pep_items (node_id, seq);

CREATE TABLE vcards (
    host TEXT COLLATE "C" NOT NULL,
    username TEXT COLLATE "C" NOT NULL,
    vcard TEXT NOT NULL,
    PRIMARY KEY (host, username),
    FOREIGN KEY (host, username) REFERENCES accounts (host, username)
        ON DELETE CASCADE
);
