-- sscard fleet centre, migration 0001: the events table, desks, roles and row-level security.
-- Applied by `sscard fleet init --db URL` inside one transaction (src/fleet/migrate.rs).
-- Roles are cluster-wide, so they are created only when missing.

CREATE SCHEMA IF NOT EXISTS fleet;

-- Which login role speaks for which terminal (one row per desk; `sscard fleet desk-add`).
CREATE TABLE fleet.desks (
    terminal   text PRIMARY KEY,
    role       name NOT NULL UNIQUE,
    added_at   timestamptz NOT NULL DEFAULT now()
);

-- Every desk's journal events, as each desk recorded them. (terminal, seq) is the
-- desk's own journal sequence: a re-push of the same event is a conflict, ignored.
CREATE TABLE fleet.events (
    terminal     text NOT NULL,
    seq          bigint NOT NULL CHECK (seq > 0),
    id           text NOT NULL,
    flow         text NOT NULL CHECK (flow IN ('pharmacy', 'window', 'first-use')),
    state        text NOT NULL CHECK (state IN ('FREEZING', 'FROZEN', 'CREDITING', 'CREDITED',
                     'COMPLETE', 'VOIDING', 'VOIDED', 'CANCELLING', 'CANCELLED')),
    at           timestamptz NOT NULL,
    operator     text NOT NULL,
    detail       text NOT NULL,
    old_card     text,
    new_card     text,
    balance_fen  bigint,
    received_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (terminal, seq)
);
CREATE INDEX events_by_id ON fleet.events (id, at);
CREATE INDEX events_by_state_at ON fleet.events (state, at);

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'sscard_desk') THEN
        CREATE ROLE sscard_desk NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'sscard_report') THEN
        CREATE ROLE sscard_report NOLOGIN;
    END IF;
END
$$;

REVOKE ALL ON SCHEMA fleet FROM PUBLIC;
REVOKE ALL ON ALL TABLES IN SCHEMA fleet FROM PUBLIC;
GRANT USAGE ON SCHEMA fleet TO sscard_desk, sscard_report;

-- Desks: insert only (no UPDATE, DELETE or TRUNCATE is granted), and only rows of
-- their own terminal (the policy below). They read `desks` for that policy.
GRANT INSERT ON fleet.events TO sscard_desk;
GRANT SELECT ON fleet.desks TO sscard_desk;
-- The back office reads everything.
GRANT SELECT ON fleet.events, fleet.desks TO sscard_report;

ALTER TABLE fleet.events ENABLE ROW LEVEL SECURITY;
CREATE POLICY desk_adds_own ON fleet.events FOR INSERT TO sscard_desk
    WITH CHECK (terminal = (SELECT d.terminal FROM fleet.desks d WHERE d.role = current_user));
CREATE POLICY report_reads ON fleet.events FOR SELECT TO sscard_report USING (true);
-- The owner (who ran `fleet init`) is not bound by the policies (no FORCE): it administers.

-- Every desk's view of one transfer, for desks consulting the centre before a cancel
-- or resume: a desk reads a transfer only by its exact id, never the whole table.
-- PL/pgSQL rather than SQL: a SECURITY DEFINER SQL function is never inlined and is
-- planned at every call; PL/pgSQL keeps its plan for the session.
CREATE FUNCTION fleet.transfer_history(transfer text)
RETURNS TABLE (terminal text, seq bigint, state text, at timestamptz, operator text,
               detail text, old_card text, new_card text, balance_fen bigint,
               received_at timestamptz)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = fleet, pg_temp AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    SELECT e.terminal, e.seq, e.state, e.at, e.operator, e.detail, e.old_card, e.new_card,
           e.balance_fen, e.received_at
    FROM fleet.events e WHERE e.id = upper(transfer)
    ORDER BY e.at, e.terminal, e.seq;
END
$$;
REVOKE ALL ON FUNCTION fleet.transfer_history(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION fleet.transfer_history(text) TO sscard_desk, sscard_report;
