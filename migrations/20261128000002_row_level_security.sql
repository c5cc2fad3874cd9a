-- Row-level security: a transaction sees only the rows of the user it acts
-- for, set per transaction with set_config('sigil.user_id', <uuid>, true).
-- Admins (members of the 'admin' role, looked up here, not trusted from the
-- session) see every row. A transaction that sets no user sees nothing.
-- FORCE applies the policies to the table owner too.

-- The user the current transaction acts for, or NULL.
CREATE FUNCTION sigil_current_user_id() RETURNS uuid
LANGUAGE sql STABLE AS $$
    SELECT NULLIF(current_setting('sigil.user_id', true), '')::uuid
$$;

-- Whether that user holds the admin role. SECURITY DEFINER so that the
-- check reads user_roles and roles whatever the caller may read; the
-- search_path is pinned for the same reason.
CREATE FUNCTION sigil_current_user_is_admin() RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT EXISTS (
        SELECT 1
        FROM user_roles ur
        JOIN roles r ON r.id = ur.role_id
        JOIN users u ON u.id = ur.user_id
        WHERE ur.user_id = NULLIF(current_setting('sigil.user_id', true), '')::uuid
          AND r.name = 'admin'
          AND u.status = 'active'
    )
$$;

ALTER TABLE public_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE public_keys FORCE ROW LEVEL SECURITY;
CREATE POLICY public_keys_owner_or_admin ON public_keys
    USING (user_id = (SELECT sigil_current_user_id()) OR (SELECT sigil_current_user_is_admin()))
    WITH CHECK (user_id = (SELECT sigil_current_user_id()) OR (SELECT sigil_current_user_is_admin()));

ALTER TABLE verification_records ENABLE ROW LEVEL SECURITY;
ALTER TABLE verification_records FORCE ROW LEVEL SECURITY;
CREATE POLICY verification_records_owner_or_admin ON verification_records
    USING (user_id = (SELECT sigil_current_user_id()) OR (SELECT sigil_current_user_is_admin()))
    WITH CHECK (user_id = (SELECT sigil_current_user_id()));

ALTER TABLE batch_verifications ENABLE ROW LEVEL SECURITY;
ALTER TABLE batch_verifications FORCE ROW LEVEL SECURITY;
CREATE POLICY batch_verifications_owner_or_admin ON batch_verifications
    USING (user_id = (SELECT sigil_current_user_id()) OR (SELECT sigil_current_user_is_admin()))
    WITH CHECK (user_id = (SELECT sigil_current_user_id()));

-- Items have no user column: they follow their batch (itself under RLS).
ALTER TABLE batch_verification_items ENABLE ROW LEVEL SECURITY;
ALTER TABLE batch_verification_items FORCE ROW LEVEL SECURITY;
CREATE POLICY batch_verification_items_via_batch ON batch_verification_items
    USING (EXISTS (SELECT 1 FROM batch_verifications b WHERE b.id = batch_id));
