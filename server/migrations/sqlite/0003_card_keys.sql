-- Which identity published each public key (SQLite). Keep in step with ../postgres/.
-- A key belongs to the first identity that publishes it, for good: another identity's
-- card with the same key is refused (409 `key_in_use`, docs/API.md), whether the first
-- card is still active or not. The single writer connection serialises publishes, so the
-- check and the insert cannot interleave.
CREATE TABLE card_keys (
    algorithm TEXT NOT NULL CHECK (algorithm IN ('ed25519', 'x25519')),
    key       BLOB NOT NULL,
    identity  TEXT NOT NULL,
    PRIMARY KEY (algorithm, key)
) WITHOUT ROWID;

-- Keys of cards published before this table existed: A and X follow the identity in the
-- snapshot (docs/FORMAT.md §3.1), whose length is byte 5 (SQLite reads a byte's value
-- through its hex digits). Where two identities already share a key, the earlier publish
-- keeps it.
INSERT OR IGNORE INTO card_keys (algorithm, key, identity)
SELECT 'ed25519', substr(snapshot, 7 + length_byte, 32), identity
FROM (SELECT snapshot, identity, log_seq,
             (instr('0123456789ABCDEF', substr(hex(snapshot), 11, 1)) - 1) * 16
             + instr('0123456789ABCDEF', substr(hex(snapshot), 12, 1)) - 1 AS length_byte
      FROM cards)
ORDER BY log_seq;
INSERT OR IGNORE INTO card_keys (algorithm, key, identity)
SELECT 'x25519', substr(snapshot, 39 + length_byte, 32), identity
FROM (SELECT snapshot, identity, log_seq,
             (instr('0123456789ABCDEF', substr(hex(snapshot), 11, 1)) - 1) * 16
             + instr('0123456789ABCDEF', substr(hex(snapshot), 12, 1)) - 1 AS length_byte
      FROM cards)
ORDER BY log_seq;
