-- Sigil schema: the seed's tables (shared/seed/database-design.md) with
-- their columns, types, constraints, indexes and default rows, plus what the
-- design adds: plugin artifacts, an append-only audit log, token signing
-- keys and refresh tokens, revoked access tokens.
--
-- Migrations run as the owner role; the service connects as `sigil_app`
-- (see 20261128000002_app_role.sql and deploy/postgres/init.sql).


-- Keeps updated_at true on every UPDATE.
CREATE FUNCTION set_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END;
$$;

------------------------------------------------------------------------
-- Users and authentication
------------------------------------------------------------------------

CREATE TABLE users (
    id            UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    username      VARCHAR(64)  NOT NULL UNIQUE,
    email         VARCHAR(256) NOT NULL UNIQUE,
    password_hash VARCHAR(256) NOT NULL,
    created_at    TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
    updated_at    TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
    last_login    TIMESTAMP WITH TIME ZONE NULL,
    status        VARCHAR(16)  NOT NULL DEFAULT 'active'
        CONSTRAINT users_status_check CHECK (status IN ('active', 'inactive', 'suspended'))
);
CREATE TRIGGER users_set_updated_at BEFORE UPDATE ON users
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE INDEX idx_users_status ON users(status);

CREATE TABLE roles (
    id          UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    name        VARCHAR(32) NOT NULL UNIQUE,
    description TEXT NULL,
    created_at  TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW()
);

CREATE TABLE user_roles (
    user_id    UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role_id    UUID NOT NULL REFERENCES roles(id) ON DELETE CASCADE,
    created_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
    PRIMARY KEY (user_id, role_id)
);
CREATE INDEX idx_user_roles_role_id ON user_roles(role_id);

CREATE TABLE permissions (
    id          UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    name        VARCHAR(64) NOT NULL UNIQUE,
    description TEXT NULL
);

CREATE TABLE role_permissions (
    role_id       UUID NOT NULL REFERENCES roles(id) ON DELETE CASCADE,
    permission_id UUID NOT NULL REFERENCES permissions(id) ON DELETE CASCADE,
    created_at    TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
    PRIMARY KEY (role_id, permission_id)
);
CREATE INDEX idx_role_permissions_permission_id ON role_permissions(permission_id);

INSERT INTO roles (name, description) VALUES
    ('admin', 'System administrator with full access'),
    ('user', 'Regular user with limited access');

INSERT INTO permissions (name, description) VALUES
    ('manage_users', 'Create, update and delete users'),
    ('manage_curves', 'Add, update and delete curves'),
    ('verify_signatures', 'Verify document signatures'),
    ('manage_public_keys', 'Add and remove public keys');

INSERT INTO role_permissions (role_id, permission_id)
SELECT r.id, p.id FROM roles r CROSS JOIN permissions p WHERE r.name = 'admin';
INSERT INTO role_permissions (role_id, permission_id)
SELECT r.id, p.id FROM roles r JOIN permissions p
    ON p.name IN ('verify_signatures', 'manage_public_keys')
WHERE r.name = 'user';

------------------------------------------------------------------------
-- Cryptographic components
------------------------------------------------------------------------

CREATE TABLE algorithms (
    id          UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    name        VARCHAR(32) NOT NULL UNIQUE,
    type        VARCHAR(16) NOT NULL
        CONSTRAINT algorithms_type_check CHECK (type IN ('ECDSA', 'RSA', 'EdDSA', 'other')),
    description TEXT NULL,
    created_at  TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW()
);

INSERT INTO algorithms (name, type, description) VALUES
    ('ECDSA', 'ECDSA', 'Elliptic Curve Digital Signature Algorithm'),
    ('RSA', 'RSA', 'Rivest–Shamir–Adleman algorithm'),
    ('EdDSA', 'EdDSA', 'Edwards-curve Digital Signature Algorithm');

CREATE TABLE curves (
    id           UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    name         VARCHAR(64) NOT NULL UNIQUE,
    algorithm_id UUID NOT NULL REFERENCES algorithms(id),
    parameters   JSONB NOT NULL,
    description  TEXT NULL,
    status       VARCHAR(16) NOT NULL DEFAULT 'enabled'
        CONSTRAINT curves_status_check CHECK (status IN ('enabled', 'disabled')),
    created_at   TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
    updated_at   TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
    -- Lets keys and records reference (curve, algorithm) together, so a
    -- key can never name a curve of another algorithm.
    CONSTRAINT curves_id_algorithm_id_key UNIQUE (id, algorithm_id)
);
CREATE INDEX idx_curves_algorithm_id ON curves(algorithm_id);
CREATE INDEX idx_curves_status ON curves(status);
CREATE TRIGGER curves_set_updated_at BEFORE UPDATE ON curves
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

INSERT INTO curves (name, algorithm_id, parameters, description)
SELECT c.name, a.id, c.parameters::jsonb, c.description
FROM (VALUES
    ('secp256k1', 'ECDSA', '{"oid": "1.3.132.0.10", "field_bits": 256, "low_s_only": true}', 'Bitcoin curve'),
    ('P-256', 'ECDSA', '{"oid": "1.2.840.10045.3.1.7", "field_bits": 256, "low_s_only": false}', 'NIST P-256 curve'),
    ('Curve25519', 'EdDSA', '{"oid": "1.3.101.112", "field_bits": 255, "variant": "PureEdDSA", "verification": "strict"}', 'Curve used in Ed25519')
) AS c(name, algorithm, parameters, description)
JOIN algorithms a ON a.name = c.algorithm;

-- "ECDSA keys/verifications must specify a curve": the algorithm's type
-- lives in another table, so a trigger enforces it (a CHECK cannot).
CREATE FUNCTION require_curve_for_ecdsa() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.curve_id IS NULL
       AND EXISTS (SELECT 1 FROM algorithms WHERE id = NEW.algorithm_id AND type = 'ECDSA') THEN
        RAISE EXCEPTION 'ECDSA % must specify a curve', TG_TABLE_NAME
            USING ERRCODE = 'check_violation', CONSTRAINT = TG_TABLE_NAME || '_ecdsa_requires_curve';
    END IF;
    RETURN NEW;
END;
$$;

CREATE TABLE public_keys (
    id           UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id      UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    algorithm_id UUID NOT NULL REFERENCES algorithms(id),
    curve_id     UUID NULL REFERENCES curves(id),
    key_data     TEXT NOT NULL,
    format       VARCHAR(16) NOT NULL DEFAULT 'PEM'
        CONSTRAINT public_keys_format_check CHECK (format IN ('PEM', 'DER', 'raw')),
    name         VARCHAR(64) NULL,
    metadata     JSONB NULL,
    created_at   TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
    expires_at   TIMESTAMP WITH TIME ZONE NULL,
    status       VARCHAR(16) NOT NULL DEFAULT 'active'
        CONSTRAINT public_keys_status_check CHECK (status IN ('active', 'revoked', 'expired')),
    CONSTRAINT public_keys_curve_algorithm_fkey FOREIGN KEY (curve_id, algorithm_id)
        REFERENCES curves(id, algorithm_id)
);
CREATE INDEX idx_public_keys_user_id ON public_keys(user_id);
CREATE INDEX idx_public_keys_algorithm_id ON public_keys(algorithm_id);
CREATE INDEX idx_public_keys_curve_id ON public_keys(curve_id);
CREATE INDEX idx_public_keys_status ON public_keys(status);
CREATE TRIGGER public_keys_ecdsa_requires_curve BEFORE INSERT OR UPDATE ON public_keys
    FOR EACH ROW EXECUTE FUNCTION require_curve_for_ecdsa();

------------------------------------------------------------------------
-- Verification records
------------------------------------------------------------------------

CREATE TABLE verification_records (
    id                UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id           UUID NOT NULL REFERENCES users(id),
    document_hash     VARCHAR(128) NOT NULL,
    public_key_id     UUID NOT NULL REFERENCES public_keys(id),
    algorithm_id      UUID NOT NULL REFERENCES algorithms(id),
    curve_id          UUID NULL REFERENCES curves(id),
    is_valid          BOOLEAN NOT NULL,
    verification_time TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
    metadata          JSONB NULL,
    CONSTRAINT verification_records_curve_algorithm_fkey FOREIGN KEY (curve_id, algorithm_id)
        REFERENCES curves(id, algorithm_id)
);
CREATE INDEX idx_verification_records_user_id ON verification_records(user_id);
CREATE INDEX idx_verification_records_public_key_id ON verification_records(public_key_id);
CREATE INDEX idx_verification_records_verification_time ON verification_records(verification_time);
-- History pages: a user's records newest first, with a stable tiebreak.
CREATE INDEX idx_verification_records_user_time_id
    ON verification_records(user_id, verification_time DESC, id DESC);
CREATE TRIGGER verification_records_ecdsa_requires_curve BEFORE INSERT OR UPDATE ON verification_records
    FOR EACH ROW EXECUTE FUNCTION require_curve_for_ecdsa();

CREATE TABLE batch_verifications (
    id                UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id           UUID NOT NULL REFERENCES users(id),
    total_count       INTEGER NOT NULL,
    success_count     INTEGER NOT NULL,
    verification_time TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
    metadata          JSONB NULL,
    CONSTRAINT batch_verifications_counts_check
        CHECK (total_count >= 0 AND success_count >= 0 AND success_count <= total_count)
);
CREATE INDEX idx_batch_verifications_user_id ON batch_verifications(user_id);
CREATE INDEX idx_batch_verifications_verification_time ON batch_verifications(verification_time);

CREATE TABLE batch_verification_items (
    id                     UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    batch_id               UUID NOT NULL REFERENCES batch_verifications(id) ON DELETE CASCADE,
    verification_record_id UUID NOT NULL REFERENCES verification_records(id),
    item_index             INTEGER NOT NULL,
    CONSTRAINT batch_verification_items_batch_id_item_index_key UNIQUE (batch_id, item_index)
);
CREATE INDEX idx_batch_verification_items_batch_id ON batch_verification_items(batch_id);
CREATE INDEX idx_batch_verification_items_verification_record_id
    ON batch_verification_items(verification_record_id);

------------------------------------------------------------------------
-- Plugins (design deviation: artifacts live in the database so every host
-- and every restart loads the same set)
------------------------------------------------------------------------

CREATE TABLE plugins (
    id           UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    name         VARCHAR(32) NOT NULL,
    version      VARCHAR(32) NOT NULL,
    sha256       CHAR(64) NOT NULL UNIQUE,
    size_bytes   INTEGER NOT NULL CHECK (size_bytes > 0),
    artifact     BYTEA NOT NULL,
    descriptor   JSONB NOT NULL,
    status       VARCHAR(16) NOT NULL DEFAULT 'inactive'
        CONSTRAINT plugins_status_check CHECK (status IN ('active', 'inactive', 'disabled')),
    uploaded_by  UUID NULL REFERENCES users(id) ON DELETE SET NULL,
    created_at   TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
    updated_at   TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
    activated_at TIMESTAMP WITH TIME ZONE NULL,
    CONSTRAINT plugins_name_version_key UNIQUE (name, version)
);
-- One active version per plugin.
CREATE UNIQUE INDEX idx_plugins_one_active_per_name ON plugins(name) WHERE status = 'active';
CREATE TRIGGER plugins_set_updated_at BEFORE UPDATE ON plugins
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

------------------------------------------------------------------------
-- Audit trail: append-only, enforced for every role
------------------------------------------------------------------------

CREATE TABLE audit_log (
    id          UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    occurred_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
    actor_id    UUID NULL,
    actor_ip    VARCHAR(64) NULL,
    action      VARCHAR(64) NOT NULL,
    target_type VARCHAR(32) NULL,
    target_id   VARCHAR(128) NULL,
    outcome     VARCHAR(16) NOT NULL DEFAULT 'success'
        CONSTRAINT audit_log_outcome_check CHECK (outcome IN ('success', 'failure')),
    details     JSONB NULL
);
CREATE INDEX idx_audit_log_occurred_at ON audit_log(occurred_at DESC, id DESC);
CREATE INDEX idx_audit_log_actor_id ON audit_log(actor_id);
CREATE INDEX idx_audit_log_action ON audit_log(action);

CREATE FUNCTION audit_log_is_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only' USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_is_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_is_append_only();

------------------------------------------------------------------------
-- Tokens
------------------------------------------------------------------------

-- Access-token signing keys, shared by every host and rotated: the newest
-- key that is not retired signs; every key not yet expired verifies.
CREATE TABLE jwt_signing_keys (
    kid         VARCHAR(64) PRIMARY KEY,
    algorithm   VARCHAR(16) NOT NULL CHECK (algorithm IN ('EdDSA')),
    private_key BYTEA NOT NULL,
    public_key  BYTEA NOT NULL,
    created_at  TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
    retire_at   TIMESTAMP WITH TIME ZONE NOT NULL,
    expires_at  TIMESTAMP WITH TIME ZONE NOT NULL,
    CHECK (retire_at <= expires_at)
);
CREATE INDEX idx_jwt_signing_keys_expires_at ON jwt_signing_keys(expires_at);

-- Refresh tokens are stored hashed. Each login starts a family; every
-- refresh spends one token and issues the next of the same family. A spent
-- token presented again revokes the whole family.
CREATE TABLE refresh_tokens (
    id          UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id     UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    family_id   UUID NOT NULL,
    token_hash  CHAR(64) NOT NULL UNIQUE,
    created_at  TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
    expires_at  TIMESTAMP WITH TIME ZONE NOT NULL,
    spent_at    TIMESTAMP WITH TIME ZONE NULL,
    revoked_at  TIMESTAMP WITH TIME ZONE NULL
);
CREATE INDEX idx_refresh_tokens_user_id ON refresh_tokens(user_id);
CREATE INDEX idx_refresh_tokens_family_id ON refresh_tokens(family_id);
CREATE INDEX idx_refresh_tokens_expires_at ON refresh_tokens(expires_at);

-- Access tokens revoked before their expiry (logout, family revocation).
-- The source of truth behind Redis's blacklist:token:{jti}.
CREATE TABLE revoked_tokens (
    jti        UUID PRIMARY KEY,
    user_id    UUID NULL REFERENCES users(id) ON DELETE CASCADE,
    family_id  UUID NULL,
    revoked_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
    expires_at TIMESTAMP WITH TIME ZONE NOT NULL
);
CREATE INDEX idx_revoked_tokens_expires_at ON revoked_tokens(expires_at);

-- Refresh-token families revoked as a whole (reuse of a spent token,
-- logout, suspension): access tokens carry their family as `sid`.
CREATE TABLE revoked_sessions (
    family_id  UUID PRIMARY KEY,
    user_id    UUID NULL REFERENCES users(id) ON DELETE CASCADE,
    revoked_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
    expires_at TIMESTAMP WITH TIME ZONE NOT NULL
);
