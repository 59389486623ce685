-- Tessera server schema, version 1 (SQLite). Keep in step with ../postgres/.

-- Cards. `log_seq` is the sequence number of the card's publish entry in the log; it
-- orders an identity's history.
CREATE TABLE cards (
    id               BLOB    NOT NULL PRIMARY KEY,
    identity         TEXT    NOT NULL,
    snapshot         BLOB    NOT NULL,
    signature        BLOB    NOT NULL,
    status           TEXT    NOT NULL CHECK (status IN ('active', 'superseded', 'revoked')),
    created_at       INTEGER NOT NULL,
    published_at     INTEGER NOT NULL,
    previous_card_id BLOB,
    superseded_by    BLOB,
    log_seq          INTEGER NOT NULL UNIQUE
) STRICT;

-- The rule "an identity has at most one active card", enforced by the database itself so
-- that no interleaving of concurrent publishes can break it. Also the search index.
CREATE UNIQUE INDEX cards_one_active_per_identity ON cards (identity) WHERE status = 'active';
CREATE INDEX cards_history ON cards (identity, log_seq);

-- The operation log (docs/LOG.md) and its head, a single row that every append updates
-- inside the same transaction, which serialises appends.
CREATE TABLE log_entries (
    seq       INTEGER NOT NULL PRIMARY KEY,
    op        TEXT    NOT NULL CHECK (op IN ('publish', 'revoke')),
    identity  TEXT    NOT NULL,
    card_id   BLOB    NOT NULL,
    timestamp INTEGER NOT NULL,
    prev_hash BLOB    NOT NULL,
    hash      BLOB    NOT NULL
) STRICT;

CREATE TABLE log_head (
    singleton INTEGER NOT NULL PRIMARY KEY CHECK (singleton = 1),
    size      INTEGER NOT NULL,
    hash      BLOB    NOT NULL
) STRICT;
INSERT INTO log_head (singleton, size, hash) VALUES (1, 0, zeroblob(32));

-- Key backups. A deleted backup keeps its row with `blob` NULL so that versions never
-- repeat (a stale If-Match cannot match a re-created backup). `live_since_version` is the
-- version at which the current incarnation was created: a write that returns
-- version = live_since_version created the backup.
CREATE TABLE backups (
    identity           TEXT    NOT NULL,
    name               TEXT    NOT NULL,
    version            INTEGER NOT NULL,
    live_since_version INTEGER NOT NULL,
    blob               BLOB,
    updated_at         INTEGER NOT NULL,
    PRIMARY KEY (identity, name)
) STRICT;

-- Group tickets.
CREATE TABLE groups (
    group_id   TEXT    NOT NULL PRIMARY KEY,
    initiator  TEXT    NOT NULL,
    created_at INTEGER NOT NULL
) STRICT;

CREATE TABLE group_tickets (
    group_id   TEXT    NOT NULL REFERENCES groups (group_id) ON DELETE CASCADE,
    epoch      INTEGER NOT NULL,
    ticket     BLOB    NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (group_id, epoch)
) STRICT;

CREATE TABLE group_participants (
    group_id TEXT    NOT NULL,
    epoch    INTEGER NOT NULL,
    position INTEGER NOT NULL,
    identity TEXT    NOT NULL,
    PRIMARY KEY (group_id, epoch, position),
    FOREIGN KEY (group_id, epoch) REFERENCES group_tickets (group_id, epoch) ON DELETE CASCADE
) STRICT;
CREATE UNIQUE INDEX group_participants_by_identity ON group_participants (group_id, identity, epoch);
