-- The administrator check behind row-level security, planned once per
-- connection instead of once per statement (issue 20).
--
-- Every policy on public_keys, verification_records, batch_verifications
-- and api_tokens asks sigil_current_user_is_admin() once per statement (an
-- InitPlan). As a SECURITY DEFINER SQL function it cannot be inlined, and
-- PostgreSQL (before 18) parses and plans a SQL function's body on every
-- call that is not inlined: measured with pgbench as sigil_app, `SELECT
-- sigil_current_user_is_admin()` took 235 µs against 43 µs for `SELECT 1`.
-- It was paid by every statement the service runs under these policies:
-- each recorded group, each API-token lookup, each key or history read.
-- PL/pgSQL keeps the plan of its query for the connection's life: 84 µs
-- (the rest is the SET search_path that a SECURITY DEFINER function keeps).
--
-- The body is the same query as migration 20261201000900's, with the same
-- meaning: the setting can only take reach away, the role is looked up.
CREATE OR REPLACE FUNCTION sigil_current_user_is_admin() RETURNS boolean
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    RETURN current_setting('sigil.admin_reach', true) IS DISTINCT FROM 'off'
       AND EXISTS (
        SELECT 1
        FROM user_roles ur
        JOIN roles r ON r.id = ur.role_id
        JOIN users u ON u.id = ur.user_id
        WHERE ur.user_id = NULLIF(current_setting('sigil.user_id', true), '')::uuid
          AND r.name = 'admin'
          AND u.status = 'active'
    );
END
$$;
