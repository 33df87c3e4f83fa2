-- sscard fleet centre, migration 0003: `fleet lookup` tells a terminal's journals apart.
-- Since 0002 a desk's events are keyed by terminal, journal *instance* and sequence,
-- yet fleet.transfer_history(id) still returned no instance: two journals of one
-- terminal (one deleted and re-created, or restored from a backup and given a new
-- instance by `sscard fleet new-instance`) showed as one desk with repeated sequence
-- numbers. The function now returns the instance too ('' for rows pushed before
-- instances existed). The new column comes last, and callers select columns by name,
-- so an older sscard reading this function is not disturbed. A function's result type
-- cannot be changed in place (CREATE OR REPLACE refuses), hence DROP and CREATE, in
-- this migration's one transaction, with the grants restored.

DROP FUNCTION fleet.transfer_history(text);
CREATE FUNCTION fleet.transfer_history(transfer text)
RETURNS TABLE (terminal text, seq bigint, state text, at timestamptz, operator text,
               detail text, old_card text, new_card text, balance_fen bigint,
               received_at timestamptz, journal text)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = fleet, pg_temp AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    SELECT e.terminal, e.seq, e.state, e.at, e.operator, e.detail, e.old_card, e.new_card,
           e.balance_fen, e.received_at, e.journal
    FROM fleet.events e WHERE e.id = upper(transfer)
    ORDER BY e.at, e.terminal, e.journal, e.seq;
END
$$;
REVOKE ALL ON FUNCTION fleet.transfer_history(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION fleet.transfer_history(text) TO sscard_desk, sscard_report;
