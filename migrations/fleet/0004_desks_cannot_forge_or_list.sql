-- sscard fleet centre, migration 0004 (issue 13, hostile review rev13 F8, F17, F10):
-- 1. Desks insert the columns they own, not `received_at`: with INSERT granted on the
--    whole table a desk could write any arrival time (the centre's own clock, the one
--    time a desk cannot skew). Granted column by column, `received_at` always takes
--    its default, now().
-- 2. Desks no longer read fleet.desks (every terminal number and role name of the
--    fleet). The row-level policies needed that read; they now ask
--    fleet.my_terminal(), SECURITY DEFINER with a fixed search_path, which returns
--    the calling login role's own terminal only. session_user, not current_user:
--    inside a SECURITY DEFINER function current_user is the owner, and the desk's
--    identity is its login (a `SET ROLE sscard_desk` cannot pose as another desk).
--    Written as `(SELECT fleet.my_terminal())` in the policies so PostgreSQL runs it
--    once per statement (an InitPlan), not once per row of a 500-row batch.
-- 3. Desk roles made before this migration get the connection limit and session
--    settings that `sscard fleet desk-add` now gives new desks (src/fleet/migrate.rs
--    DESK_CONNECTION_LIMIT, DESK_SETTINGS): at most 8 connections, statements of at
--    most 120 s, lock waits of at most 10 s, idle-in-transaction of at most 30 s.
--    Only roles recorded in fleet.desks that are members of sscard_desk are changed.
-- Independent of migration 0003 (fleet lookup's journal instance), which it follows.

REVOKE INSERT ON fleet.events FROM sscard_desk;
GRANT INSERT (terminal, journal, seq, id, flow, state, at, operator, detail, old_card,
              new_card, balance_fen) ON fleet.events TO sscard_desk;
REVOKE INSERT ON fleet.card_reads FROM sscard_desk;
GRANT INSERT (terminal, journal, seq, at, operator, card_number, issue_date, expiry_date,
              deadline, deadline_basis, holder_masked) ON fleet.card_reads TO sscard_desk;

CREATE FUNCTION fleet.my_terminal()
RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = fleet, pg_temp AS $$
    SELECT d.terminal FROM fleet.desks d WHERE d.role = session_user
$$;
REVOKE ALL ON FUNCTION fleet.my_terminal() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION fleet.my_terminal() TO sscard_desk;

ALTER POLICY desk_adds_own ON fleet.events
    WITH CHECK (terminal = (SELECT fleet.my_terminal()));
ALTER POLICY desk_adds_own ON fleet.card_reads
    WITH CHECK (terminal = (SELECT fleet.my_terminal()));
REVOKE SELECT ON fleet.desks FROM sscard_desk;

DO $$
DECLARE
    r name;
BEGIN
    FOR r IN
        SELECT d.role FROM fleet.desks d
        JOIN pg_roles u ON u.rolname = d.role
        WHERE pg_has_role(u.oid, 'sscard_desk', 'MEMBER') AND NOT u.rolsuper
    LOOP
        EXECUTE format('ALTER ROLE %I CONNECTION LIMIT 8', r);
        EXECUTE format('ALTER ROLE %I SET statement_timeout = %L', r, '120s');
        EXECUTE format('ALTER ROLE %I SET lock_timeout = %L', r, '10s');
        EXECUTE format('ALTER ROLE %I SET idle_in_transaction_session_timeout = %L', r, '30s');
    END LOOP;
END
$$;
