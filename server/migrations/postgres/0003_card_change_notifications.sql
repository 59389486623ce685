-- Every change to a card row notifies channel `tessera_cards` with the card's identity,
-- delivered when the transaction commits. Replicas evict those identities from their
-- search caches (docs/SERVER.md "Several replicas"). A trigger rather than a call in the
-- server's own writes, so that writes by any server version, or by hand, are seen too.
-- PostgreSQL drops duplicate notifications within a transaction: a rotation (an UPDATE
-- and an INSERT of the same identity) sends one.
CREATE FUNCTION tessera_notify_card_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM pg_notify('tessera_cards', OLD.identity);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        PERFORM pg_notify('tessera_cards', NEW.identity);
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER cards_notify_change
    AFTER INSERT OR UPDATE OR DELETE ON cards
    FOR EACH ROW EXECUTE FUNCTION tessera_notify_card_change();
