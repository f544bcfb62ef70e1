-- Offline messages (XEP-0160), oldest first by id.
CREATE TABLE offline_messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    owner TEXT NOT NULL,
    stanza TEXT NOT NULL,
    stamp TEXT NOT NULL
);
CREATE INDEX offline_messages_owner ON offline_messages (owner, id);
