-- P-256 takes SHA3-256 digests as well (the API documents `sha3-256` for
-- ECDSA; Wycheproof's ecdsa_secp256r1_sha3_256 set tests it): the
-- catalogue's policy must allow what the ecdsa-p256 plugin now declares,
-- or admission refuses it as a policy mismatch. Only the seeded list is
-- extended; a policy an operator changed is left as it is.
UPDATE curves
   SET policy = jsonb_set(policy, '{hashes}', '["sha256", "sha384", "sha512", "sha3-256"]')
 WHERE name = 'P-256'
   AND policy->'hashes' = '["sha256", "sha384", "sha512"]';
