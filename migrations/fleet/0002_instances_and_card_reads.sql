-- sscard fleet centre, migration 0002 (issue 13):
-- 1. A desk's events are keyed by terminal, journal *instance* and sequence. A journal
--    file deleted and re-created starts its sequence at 1 again; with the key
--    (terminal, seq) its events collided with the ones already pushed and were
--    dropped as duplicates. Each journal file now has a random instance id; rows
--    pushed before this migration, and desks still running an older sscard, use the
--    empty instance '' (what a migrated desk journal keeps too).
-- 2. The desks' card reads: not-yet-activated new cards a desk has read, for the
--    report of cards near or past the six-month activation deadline
--    (spec/activation.md). The holder's citizen ID arrives masked only; the CHECK
--    makes a clear one impossible to store.
-- 3. fleet.event_conflicts / fleet.card_read_conflicts: a desk learns which of the
--    rows it sent are already stored *with different content* (a journal restored
--    from a backup or copied), so the push refuses instead of losing them silently.

ALTER TABLE fleet.events ADD COLUMN journal text NOT NULL DEFAULT '';
ALTER TABLE fleet.events DROP CONSTRAINT events_pkey;
ALTER TABLE fleet.events ADD PRIMARY KEY (terminal, journal, seq);
-- The deadline report asks "was this card ever activated anywhere".
CREATE INDEX events_completed_card ON fleet.events (new_card) WHERE state = 'COMPLETE';

CREATE TABLE fleet.card_reads (
    terminal        text NOT NULL,
    journal         text NOT NULL,
    seq             bigint NOT NULL CHECK (seq > 0),
    at              timestamptz NOT NULL,
    operator        text NOT NULL,
    card_number     text NOT NULL,
    issue_date      date,
    expiry_date     date,
    deadline        date NOT NULL,
    deadline_basis  text NOT NULL CHECK (deadline_basis IN ('issue_date', 'expiry_date')),
    holder_masked   text CHECK (holder_masked IS NULL OR holder_masked ~ '^[0-9]{6}\*{8}[0-9]{3}[0-9Xx]$'),
    received_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (terminal, journal, seq)
);
CREATE INDEX card_reads_by_deadline ON fleet.card_reads (deadline, card_number);

REVOKE ALL ON fleet.card_reads FROM PUBLIC;
GRANT INSERT ON fleet.card_reads TO sscard_desk;
GRANT SELECT ON fleet.card_reads TO sscard_report;
ALTER TABLE fleet.card_reads ENABLE ROW LEVEL SECURITY;
CREATE POLICY desk_adds_own ON fleet.card_reads FOR INSERT TO sscard_desk
    WITH CHECK (terminal = (SELECT d.terminal FROM fleet.desks d WHERE d.role = current_user));
CREATE POLICY report_reads ON fleet.card_reads FOR SELECT TO sscard_report USING (true);

-- The rows of the calling desk's own terminal (by its login role) whose stored content
-- differs from what it sends now. Another terminal's rows are never compared.
CREATE FUNCTION fleet.event_conflicts(p_terminal text, p_journal text, p_seq bigint[],
                                      p_id text[], p_state text[], p_at timestamptz[])
RETURNS SETOF bigint
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = fleet, pg_temp AS $$
    SELECT u.s
    FROM unnest(p_seq, p_id, p_state, p_at) AS u(s, i, st, a)
    JOIN fleet.events e ON e.terminal = p_terminal AND e.journal = p_journal AND e.seq = u.s
    WHERE p_terminal = (SELECT d.terminal FROM fleet.desks d WHERE d.role = session_user)
      AND (e.id, e.state, e.at) IS DISTINCT FROM (u.i, u.st, u.a)
    ORDER BY u.s
$$;
CREATE FUNCTION fleet.card_read_conflicts(p_terminal text, p_journal text, p_seq bigint[],
                                          p_card text[], p_at timestamptz[])
RETURNS SETOF bigint
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = fleet, pg_temp AS $$
    SELECT u.s
    FROM unnest(p_seq, p_card, p_at) AS u(s, c, a)
    JOIN fleet.card_reads r ON r.terminal = p_terminal AND r.journal = p_journal AND r.seq = u.s
    WHERE p_terminal = (SELECT d.terminal FROM fleet.desks d WHERE d.role = session_user)
      AND (r.card_number, r.at) IS DISTINCT FROM (u.c, u.a)
    ORDER BY u.s
$$;
REVOKE ALL ON FUNCTION fleet.event_conflicts(text, text, bigint[], text[], text[], timestamptz[]) FROM PUBLIC;
REVOKE ALL ON FUNCTION fleet.card_read_conflicts(text, text, bigint[], text[], timestamptz[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION fleet.event_conflicts(text, text, bigint[], text[], text[], timestamptz[]) TO sscard_desk;
GRANT EXECUTE ON FUNCTION fleet.card_read_conflicts(text, text, bigint[], text[], timestamptz[]) TO sscard_desk;
