-- Secrets every host of a deployment shares, generated on first start.
-- `cache_mac` authenticates what Sigil writes to Redis (cached users, keys,
-- catalogue, verification results): whoever can write to Redis cannot
-- forge a cached answer, only make it miss.
CREATE TABLE deployment_secrets (
    name       VARCHAR(64) PRIMARY KEY,
    value      BYTEA NOT NULL CHECK (length(value) >= 32),
    created_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW()
);
GRANT SELECT, INSERT ON deployment_secrets TO sigil_app;
