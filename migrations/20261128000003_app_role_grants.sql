-- Least privilege for the service's role, `sigil_app`: it owns nothing,
-- cannot bypass row-level security, and holds only the grants it needs.
-- Verification records and batch rows are insert-and-read only; the audit
-- log is insert-and-read only (and append-only for everyone, by trigger).
--
-- The role itself is created outside migrations, by whoever administers
-- the cluster (deploy/postgres/init.sql): creating roles needs CREATEROLE,
-- which the schema owner should not hold.

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'sigil_app') THEN
        RAISE EXCEPTION 'role sigil_app does not exist; create it first (deploy/postgres/init.sql)';
    END IF;
END
$$;

REVOKE ALL ON ALL TABLES IN SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO sigil_app;

GRANT SELECT, INSERT, UPDATE, DELETE ON users TO sigil_app;
GRANT SELECT ON roles, permissions, role_permissions TO sigil_app;
GRANT SELECT, INSERT, DELETE ON user_roles TO sigil_app;
GRANT SELECT, INSERT, UPDATE ON algorithms, curves TO sigil_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON public_keys TO sigil_app;
GRANT SELECT, INSERT ON verification_records, batch_verifications, batch_verification_items TO sigil_app;
GRANT SELECT, INSERT, UPDATE ON plugins TO sigil_app;
GRANT SELECT, INSERT ON audit_log TO sigil_app;
GRANT SELECT, INSERT ON jwt_signing_keys TO sigil_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON refresh_tokens TO sigil_app;
GRANT SELECT, INSERT, DELETE ON revoked_tokens TO sigil_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON revoked_sessions TO sigil_app;

GRANT EXECUTE ON FUNCTION sigil_current_user_id(), sigil_current_user_is_admin() TO sigil_app;

-- `sigil serve` checks that the schema is current before it serves.
GRANT SELECT ON _sqlx_migrations TO sigil_app;
