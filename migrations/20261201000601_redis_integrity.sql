-- Redis integrity (issue 14, item 4).
--
-- 1. Generations. A sealed Redis entry binds the generation of what it
--    caches; a change that must not be undone by replaying an older entry
--    (a key revoked, renamed or deleted; a user suspended or given other
--    roles; a token or session revoked) bumps the generation in the same
--    transaction, by trigger, so no code path can forget it. An entry
--    sealed under an older generation no longer opens: it is a miss.
CREATE TABLE cache_generations (
    name       VARCHAR(32) PRIMARY KEY
        CONSTRAINT cache_generations_name_check CHECK (name IN ('public_key', 'user', 'revocation')),
    generation BIGINT NOT NULL DEFAULT 1
);
INSERT INTO cache_generations (name) VALUES ('public_key'), ('user'), ('revocation');

CREATE FUNCTION bump_cache_generation() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE cache_generations SET generation = generation + 1 WHERE name = TG_ARGV[0];
    RETURN NULL;
END;
$$;

CREATE TRIGGER public_keys_bump_generation
    AFTER UPDATE OR DELETE ON public_keys
    FOR EACH STATEMENT EXECUTE FUNCTION bump_cache_generation('public_key');
-- `last_login` alone (every login) does not bump.
CREATE TRIGGER users_bump_generation
    AFTER UPDATE OF username, email, password_hash, status ON users
    FOR EACH STATEMENT EXECUTE FUNCTION bump_cache_generation('user');
CREATE TRIGGER users_deleted_bump_generation
    AFTER DELETE ON users
    FOR EACH STATEMENT EXECUTE FUNCTION bump_cache_generation('user');
CREATE TRIGGER user_roles_bump_generation
    AFTER INSERT OR UPDATE OR DELETE ON user_roles
    FOR EACH STATEMENT EXECUTE FUNCTION bump_cache_generation('user');
CREATE TRIGGER revoked_tokens_bump_generation
    AFTER INSERT OR UPDATE ON revoked_tokens
    FOR EACH STATEMENT EXECUTE FUNCTION bump_cache_generation('revocation');
CREATE TRIGGER revoked_sessions_bump_generation
    AFTER INSERT OR UPDATE ON revoked_sessions
    FOR EACH STATEMENT EXECUTE FUNCTION bump_cache_generation('revocation');

GRANT SELECT, UPDATE ON cache_generations TO sigil_app;

-- 2. The Redis sealing key (`deployment_secrets.cache_mac`) is stored
--    sealed with `auth.signing_key_secret` (XChaCha20-Poly1305, `SDS1`
--    form, see host/src/auth/sealing.rs). A row written before this
--    migration holds the key in the clear: the first host that starts with
--    the secret set re-wraps it in place (compare-and-swap on the old
--    value), which needs UPDATE.
GRANT UPDATE (value) ON deployment_secrets TO sigil_app;
