-- Demo mode's message relay (docs/SERVER.md "Demo mode"), version 2 (PostgreSQL). Keep
-- in step with ../sqlite/. The server stores what clients send: ciphertext it cannot read.

-- Inserts take a transaction-scoped advisory lock before drawing an id, so ids are
-- assigned in commit order across replicas: a reader that has seen id N has seen every
-- message below N, and an `after` cursor never skips a message.
CREATE TABLE demo_messages (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    sender       TEXT   NOT NULL,
    conversation TEXT   NOT NULL,
    kind         TEXT   NOT NULL CHECK (kind IN ('text', 'file', 'system')),
    ciphertext   BYTEA  NOT NULL,
    created_at   BIGINT NOT NULL
);
CREATE INDEX demo_messages_by_sender ON demo_messages (sender, id);

-- Recipients in the order the sender gave them.
CREATE TABLE demo_message_recipients (
    message_id BIGINT  NOT NULL REFERENCES demo_messages (id) ON DELETE CASCADE,
    position   INTEGER NOT NULL,
    identity   TEXT    NOT NULL,
    PRIMARY KEY (message_id, position),
    UNIQUE (message_id, identity)
);
CREATE INDEX demo_message_recipients_by_identity ON demo_message_recipients (identity, message_id);
