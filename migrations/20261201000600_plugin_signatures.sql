-- Signed plugins: who published a stored version, and which signature
-- admitted it. `publisher` is the name of the trusted publisher key
-- (`plugins.trusted_publishers`) whose Ed25519 signature verified over the
-- component; `signature_sha256` is the hex SHA-256 of that detached
-- signature. Both are NULL for a version admitted without a signature
-- (when `plugins.require_signature` is off, and for the plugin directory).
ALTER TABLE plugins
    ADD COLUMN publisher        VARCHAR(64) NULL,
    ADD COLUMN signature_sha256 CHAR(64) NULL,
    ADD CONSTRAINT plugins_signature_has_publisher
        CHECK ((publisher IS NULL) = (signature_sha256 IS NULL));
