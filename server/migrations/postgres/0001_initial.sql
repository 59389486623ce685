-- Tessera server schema, version 1 (PostgreSQL). Keep in step with ../sqlite/.

-- Cards. `log_seq` is the sequence number of the card's publish entry in the log; it
-- orders an identity's history.
CREATE TABLE cards (
    id               BYTEA   NOT NULL PRIMARY KEY,
    identity         TEXT    NOT NULL,
    snapshot         BYTEA   NOT NULL,
    signature        BYTEA   NOT NULL,
    status           TEXT    NOT NULL CHECK (status IN ('active', 'superseded', 'revoked')),
    created_at       BIGINT  NOT NULL,
    published_at     BIGINT  NOT NULL,
    previous_card_id BYTEA,
    superseded_by    BYTEA,
    log_seq          BIGINT  NOT NULL UNIQUE
);

-- The rule "an identity has at most one active card", enforced by the database itself so
-- that no interleaving of concurrent publishes (from any replica) can break it. Also the
-- search index.
CREATE UNIQUE INDEX cards_one_active_per_identity ON cards (identity) WHERE status = 'active';
CREATE INDEX cards_history ON cards (identity, log_seq);

-- The operation log (docs/LOG.md) and its head, a single row that every append locks
-- (SELECT ... FOR UPDATE) inside the same transaction, which serialises appends across
-- replicas.
CREATE TABLE log_entries (
    seq       BIGINT NOT NULL PRIMARY KEY,
    op        TEXT   NOT NULL CHECK (op IN ('publish', 'revoke')),
    identity  TEXT   NOT NULL,
    card_id   BYTEA  NOT NULL,
    timestamp BIGINT NOT NULL,
    prev_hash BYTEA  NOT NULL,
    hash      BYTEA  NOT NULL
);

CREATE TABLE log_head (
    singleton INTEGER NOT NULL PRIMARY KEY CHECK (singleton = 1),
    size      BIGINT  NOT NULL,
    hash      BYTEA   NOT NULL
);
INSERT INTO log_head (singleton, size, hash) VALUES (1, 0, decode(repeat('00', 32), 'hex'));

-- Key backups. A deleted backup keeps its row with `blob` NULL so that versions never
-- repeat (a stale If-Match cannot match a re-created backup). `live_since_version` is the
-- version at which the current incarnation was created: a write that returns
-- version = live_since_version created the backup.
CREATE TABLE backups (
    identity           TEXT   NOT NULL,
    name               TEXT   NOT NULL,
    version            BIGINT NOT NULL,
    live_since_version BIGINT NOT NULL,
    blob               BYTEA,
    updated_at         BIGINT NOT NULL,
    PRIMARY KEY (identity, name)
);

-- Group tickets.
CREATE TABLE groups (
    group_id   TEXT   NOT NULL PRIMARY KEY,
    initiator  TEXT   NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE group_tickets (
    group_id   TEXT    NOT NULL REFERENCES groups (group_id) ON DELETE CASCADE,
    epoch      INTEGER NOT NULL,
    ticket     BYTEA   NOT NULL,
    created_at BIGINT  NOT NULL,
    PRIMARY KEY (group_id, epoch)
);

CREATE TABLE group_participants (
    group_id TEXT    NOT NULL,
    epoch    INTEGER NOT NULL,
    position INTEGER NOT NULL,
    identity TEXT    NOT NULL,
    PRIMARY KEY (group_id, epoch, position),
    FOREIGN KEY (group_id, epoch) REFERENCES group_tickets (group_id, epoch) ON DELETE CASCADE
);
CREATE UNIQUE INDEX group_participants_by_identity ON group_participants (group_id, identity, epoch);
