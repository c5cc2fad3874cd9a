-- An administrator's reach over other users' rows can be narrowed per
-- transaction: the service sets sigil.admin_reach = 'off' when the caller
-- is an administrator's API token without the manage_users scope, so a
-- token scoped to verification sees its owner's rows only. The setting can
-- only take reach away: the role is still looked up here, never trusted
-- from the session.
CREATE OR REPLACE FUNCTION sigil_current_user_is_admin() RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT current_setting('sigil.admin_reach', true) IS DISTINCT FROM 'off'
       AND EXISTS (
        SELECT 1
        FROM user_roles ur
        JOIN roles r ON r.id = ur.role_id
        JOIN users u ON u.id = ur.user_id
        WHERE ur.user_id = NULLIF(current_setting('sigil.user_id', true), '')::uuid
          AND r.name = 'admin'
          AND u.status = 'active'
    )
$$;
