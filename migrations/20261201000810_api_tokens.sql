-- API tokens (personal access tokens, issue 17): a user's long-lived
-- credential for programs, sent as `Authorization: Bearer sigil_pat_...`.
--
-- Only the SHA-256 of the token is stored (hex, like refresh_tokens): the
-- token is 256 random bits, so a fast hash is as good as a slow one (there
-- is nothing to guess), and a lookup by hash costs one index probe.
-- Rows are never deleted by the service: a revoked or expired token stays
-- listed (and named in the audit log by id) until its user is deleted.
CREATE TABLE api_tokens (
    id           UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id      UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name         VARCHAR(64) NOT NULL
        CONSTRAINT api_tokens_name_check CHECK (char_length(name) >= 1),
    token_hash   TEXT NOT NULL
        CONSTRAINT api_tokens_token_hash_check CHECK (token_hash ~ '^[0-9a-f]{64}$'),
    scopes       TEXT[] NOT NULL
        CONSTRAINT api_tokens_scopes_check CHECK (cardinality(scopes) >= 1),
    created_at   TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
    expires_at   TIMESTAMP WITH TIME ZONE NOT NULL,
    last_used_at TIMESTAMP WITH TIME ZONE NULL,
    revoked_at   TIMESTAMP WITH TIME ZONE NULL,
    CONSTRAINT api_tokens_token_hash_key UNIQUE (token_hash),
    CONSTRAINT api_tokens_expiry_check CHECK (expires_at > created_at)
);
CREATE INDEX idx_api_tokens_user_created ON api_tokens(user_id, created_at DESC, id DESC);

-- The hash of the token the current transaction authenticates with, or
-- NULL (set per transaction with set_config('sigil.token_hash', <hex>, true)).
CREATE FUNCTION sigil_presented_token_hash() RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT NULLIF(current_setting('sigil.token_hash', true), '')
$$;

-- Row-level security as for the other per-user tables: a transaction sees
-- the rows of the user it acts for, an administrator every row; and a
-- transaction that presents a token's hash sees that one row (authenticating
-- a request happens before anyone is known: only whoever holds the secret
-- can name the row, and it may change nothing but its use and revocation
-- times, see the column grants below).
ALTER TABLE api_tokens ENABLE ROW LEVEL SECURITY;
ALTER TABLE api_tokens FORCE ROW LEVEL SECURITY;
CREATE POLICY api_tokens_owner_admin_or_holder ON api_tokens
    USING (
        user_id = (SELECT sigil_current_user_id())
        OR (SELECT sigil_current_user_is_admin())
        OR token_hash = (SELECT sigil_presented_token_hash())
    )
    WITH CHECK (
        user_id = (SELECT sigil_current_user_id())
        OR (SELECT sigil_current_user_is_admin())
        OR token_hash = (SELECT sigil_presented_token_hash())
    );

-- Created and read; only the use time and the revocation ever change.
GRANT SELECT, INSERT ON api_tokens TO sigil_app;
GRANT UPDATE (last_used_at, revoked_at) ON api_tokens TO sigil_app;
GRANT EXECUTE ON FUNCTION sigil_presented_token_hash() TO sigil_app;
