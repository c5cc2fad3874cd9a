-- Verification policy lives in the catalogue, not in the plugins: what a
-- verification on a curve (or with an algorithm) means. Admission derives
-- its conformance sets from these rows and refuses a plugin whose
-- descriptor disagrees; the host enforces what public data allows (high-S
-- on a low-S curve, non-canonical Ed25519 S) before any plugin is called.
--
-- curves.policy:
--   low_s_only  ECDSA: a signature with S > n/2 is refused (BIP 62/146)
--   order       ECDSA: the group order n, lowercase hex (what the host
--               compares S with)
--   strict      EdDSA: strict verification (canonical encodings, no
--               small-order or mixed-order points, cofactorless equation:
--               ed25519-dalek's verify_strict); S >= L is refused
--   hashes      hashes a request may name (digest algorithms)
--   encodings   signature encodings a request may use
-- algorithms.policy (algorithms without curves, RSA):
--   min_modulus_bits, max_modulus_bits, min_exponent, max_exponent,
--   schemes, hashes
-- An absent key means "no constraint" except where noted in PLUGINS.md.

ALTER TABLE curves ADD COLUMN policy JSONB NOT NULL DEFAULT '{}'
    CONSTRAINT curves_policy_object CHECK (jsonb_typeof(policy) = 'object');
ALTER TABLE algorithms ADD COLUMN policy JSONB NOT NULL DEFAULT '{}'
    CONSTRAINT algorithms_policy_object CHECK (jsonb_typeof(policy) = 'object');

UPDATE curves SET policy = '{"low_s_only": true, "order": "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141", "hashes": ["sha256", "keccak256"], "encodings": ["der", "p1363"]}'
    WHERE name = 'secp256k1';
UPDATE curves SET policy = '{"low_s_only": false, "order": "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551", "hashes": ["sha256", "sha384", "sha512"], "encodings": ["der", "p1363"]}'
    WHERE name = 'P-256';
UPDATE curves SET policy = '{"strict": true, "encodings": ["raw"]}'
    WHERE name = 'Curve25519';
-- Curves added later (by an administrator or by the first plugin serving
-- them) may already exist: give the well-known ones their order.
UPDATE curves SET policy = jsonb_build_object('low_s_only', COALESCE((parameters->>'low_s_only')::boolean, false),
        'order', 'ffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973')
    WHERE name = 'P-384' AND policy = '{}';
UPDATE curves SET policy = jsonb_build_object('low_s_only', COALESCE((parameters->>'low_s_only')::boolean, false),
        'order', '01fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffa51868783bf2f966b7fcc0148f709a5d03bb5c9b8899c47aebb6fb71e91386409')
    WHERE name = 'P-521' AND policy = '{}';

UPDATE algorithms SET policy = '{"min_modulus_bits": 2048, "max_modulus_bits": 8192, "min_exponent": 3, "max_exponent": 8589934591, "schemes": ["pkcs1v15", "pss"], "hashes": ["sha256", "sha384", "sha512"]}'
    WHERE name = 'RSA';

-- What the catalogue advertises in parameters (the first contract) cannot
-- contradict the policy.
ALTER TABLE curves ADD CONSTRAINT curves_low_s_agrees CHECK (
    NOT (parameters ? 'low_s_only') OR NOT (policy ? 'low_s_only')
    OR parameters->'low_s_only' = policy->'low_s_only');
