-- Contract 0.2.0 names SHA3-384 and SHA3-512, and the ECDSA plugins now
-- declare them where Wycheproof has a set for the pair: P-256 SHA3-512,
-- P-384 SHA3-384 and SHA3-512, P-521 SHA3-512, brainpoolP384r1 SHA3-384.
-- The catalogue's policy must allow what a plugin declares, or admission
-- refuses it as a policy mismatch. As for SHA3-256 before
-- (20261201000800), only a list as it was seeded or first catalogued is
-- extended; a policy an operator changed is left as it is, and the new
-- plugin is refused there until the operator allows the hashes.
UPDATE curves
   SET policy = jsonb_set(policy, '{hashes}', '["sha256", "sha384", "sha512", "sha3-256", "sha3-512"]')
 WHERE name = 'P-256'
   AND policy->'hashes' = '["sha256", "sha384", "sha512", "sha3-256"]';
UPDATE curves
   SET policy = jsonb_set(policy, '{hashes}', '["sha384", "sha256", "sha512", "sha3-384", "sha3-512"]')
 WHERE name = 'P-384'
   AND policy->'hashes' = '["sha384", "sha256", "sha512"]';
UPDATE curves
   SET policy = jsonb_set(policy, '{hashes}', '["sha512", "sha3-512"]')
 WHERE name = 'P-521'
   AND policy->'hashes' = '["sha512"]';
UPDATE curves
   SET policy = jsonb_set(policy, '{hashes}', '["sha384", "sha3-384"]')
 WHERE name = 'brainpoolP384r1'
   AND policy->'hashes' = '["sha384"]';
