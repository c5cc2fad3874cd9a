-- One definition of "a key as the service reads it": its algorithm and
-- curve names, and its status now. The expiry rule (an active key whose
-- expires_at has passed reads `expired`) was written out in every SELECT
-- of store/keys.rs; it lives here instead, and the service reads keys only
-- through this view. (Cached copies apply the same rule in Rust,
-- `KeyRow::status_now`, because a copy may predate the expiry.)
--
-- security_invoker: the view reads public_keys, algorithms and curves with
-- the rights of the role that queries it, so grants and row-level security
-- are checked for sigil_app exactly as if it read the tables itself (a
-- plain view would check them for the view's owner). sigil_app gets SELECT
-- on the view and nothing more.
CREATE VIEW public_keys_now WITH (security_invoker = true) AS
SELECT k.id, k.user_id, k.algorithm_id, a.name AS algorithm, k.curve_id,
       c.name AS curve, c.status AS curve_status,
       k.key_data, k.format, k.name, k.metadata, k.created_at, k.expires_at,
       CASE WHEN k.status = 'active' AND k.expires_at <= now() THEN 'expired' ELSE k.status END AS status
FROM public_keys k
JOIN algorithms a ON a.id = k.algorithm_id
LEFT JOIN curves c ON c.id = k.curve_id;

GRANT SELECT ON public_keys_now TO sigil_app;
