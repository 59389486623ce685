-- Which identity published each public key (PostgreSQL). Keep in step with ../sqlite/.
-- A key belongs to the first identity that publishes it, for good: another identity's
-- card with the same key is refused (409 `key_in_use`, docs/API.md), whether the first
-- card is still active or not. Publishes are serialised by the log head lock, so the
-- check and the insert cannot interleave.
CREATE TABLE card_keys (
    algorithm TEXT  NOT NULL CHECK (algorithm IN ('ed25519', 'x25519')),
    key       BYTEA NOT NULL,
    identity  TEXT  NOT NULL,
    PRIMARY KEY (algorithm, key)
);

-- Keys of cards published before this table existed: A and X follow the identity in the
-- snapshot (docs/FORMAT.md §3.1), whose length is byte 5. Where two identities already
-- share a key, the earlier publish keeps it.
INSERT INTO card_keys (algorithm, key, identity)
SELECT algorithm, key, identity FROM (
    SELECT 'ed25519' AS algorithm, substring(snapshot FROM 7 + get_byte(snapshot, 5) FOR 32) AS key,
           identity, log_seq
    FROM cards
    UNION ALL
    SELECT 'x25519', substring(snapshot FROM 39 + get_byte(snapshot, 5) FOR 32), identity, log_seq
    FROM cards
) AS keys
ORDER BY log_seq
ON CONFLICT DO NOTHING;
