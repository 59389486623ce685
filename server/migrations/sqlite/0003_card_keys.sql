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
-- snapshot (docs/FORMAT.md §3.1), whose length is byte 5; `a_offset` is where A starts,
-- counting from 1 (SQLite reads a byte's value through its hex digits). Where two
-- identities already share a key, the earlier publish keeps it.
WITH parsed AS (
    SELECT identity, log_seq, snapshot,
           7 + (instr('0123456789ABCDEF', substr(hex(snapshot), 11, 1)) - 1) * 16
             + instr('0123456789ABCDEF', substr(hex(snapshot), 12, 1)) - 1 AS a_offset
    FROM cards
)
INSERT OR IGNORE INTO card_keys (algorithm, key, identity)
SELECT algorithm, key, identity FROM (
    SELECT 'ed25519' AS algorithm, substr(snapshot, a_offset, 32) AS key, identity, log_seq
    FROM parsed
    UNION ALL
    SELECT 'x25519', substr(snapshot, a_offset + 32, 32), identity, log_seq FROM parsed
)
ORDER BY log_seq;
