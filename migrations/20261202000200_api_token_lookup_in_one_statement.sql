-- Authenticating a request by API token in one statement (issue 20).
--
-- The lookup was a transaction of its own: BEGIN, set_config to present
-- the token's hash, the SELECT (and, at most once a minute per token and
-- host, the UPDATE of last_used_at), COMMIT: four round trips, on every
-- request a program makes. This function presents the hash for its own
-- statement's transaction (set_config(..., true) ends with it, so nothing
-- is left on the pooled connection) and does the same read and the same
-- write, so one autocommitted statement does it all. PostgreSQL is still
-- asked on every request: a revocation counts on the very next one, on
-- every host.
--
-- SECURITY INVOKER: it runs as the caller (sigil_app) under the same
-- row-level security as before: the row is visible only because its hash
-- is presented, and only last_used_at may change.
CREATE FUNCTION sigil_api_token_by_hash(presented text, touch boolean)
RETURNS SETOF api_tokens
LANGUAGE plpgsql VOLATILE SECURITY INVOKER AS $$
DECLARE
    token api_tokens;
BEGIN
    PERFORM set_config('sigil.token_hash', presented, true);
    SELECT * INTO token FROM api_tokens WHERE token_hash = presented;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    -- A usable token's use is recorded unless some host did so within the
    -- minute; the row returned is the one read, as before.
    IF touch AND token.revoked_at IS NULL AND token.expires_at > now() THEN
        UPDATE api_tokens SET last_used_at = now()
         WHERE id = token.id
           AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute');
    END IF;
    RETURN NEXT token;
END
$$;

REVOKE ALL ON FUNCTION sigil_api_token_by_hash(text, boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION sigil_api_token_by_hash(text, boolean) TO sigil_app;
