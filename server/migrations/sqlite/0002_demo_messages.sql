-- Demo mode's message relay (docs/SERVER.md "Demo mode"), version 2 (SQLite). Keep in
-- step with ../postgres/. The server stores what clients send: ciphertext it cannot read.

-- AUTOINCREMENT: ids are never reused, so a client's `after` cursor stays meaningful.
-- The single writer connection assigns ids in commit order, so a reader that has seen
-- id N has seen every message below N.
CREATE TABLE demo_messages (
    id           INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    sender       TEXT    NOT NULL,
    conversation TEXT    NOT NULL,
    kind         TEXT    NOT NULL CHECK (kind IN ('text', 'file', 'system')),
    ciphertext   BLOB    NOT NULL,
    created_at   INTEGER NOT NULL
) STRICT;
CREATE INDEX demo_messages_by_sender ON demo_messages (sender, id);

-- Recipients in the order the sender gave them.
CREATE TABLE demo_message_recipients (
    message_id INTEGER NOT NULL REFERENCES demo_messages (id) ON DELETE CASCADE,
    position   INTEGER NOT NULL,
    identity   TEXT    NOT NULL,
    PRIMARY KEY (message_id, position),
    UNIQUE (message_id, identity)
) STRICT;
CREATE INDEX demo_message_recipients_by_identity ON demo_message_recipients (identity, message_id);
