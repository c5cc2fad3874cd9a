-- Recording a group of verifications in one statement.
--
-- Every answer waits for its record's commit, so the round trips of that
-- commit are on every request's path. A group took BEGIN, then per user
-- set_config and INSERT (plus two per batch), then COMMIT; on a busy host
-- each round trip waits for a core. `record_verifications` writes a whole
-- group (records, batch rows, items, for any number of users) as one
-- statement, which PostgreSQL runs as one transaction: all or nothing.
--
-- It runs with the caller's rights (SECURITY INVOKER) and acts for each
-- user in turn with `set_config('sigil.user_id', ..., true)`, exactly as
-- the service does in its own transactions, so every row still passes the
-- row-level-security WITH CHECK policies of migration 5. Rows already
-- present (same host-chosen id) are skipped, so retrying a group whose
-- commit answer was lost neither fails nor duplicates.
--
-- Arrays are parallel: r_* one entry per record, b_* per batch row, i_*
-- per batch item. Returns how many records were inserted.
CREATE FUNCTION record_verifications(
    r_id uuid[], r_user uuid[], r_hash text[], r_key uuid[], r_algorithm uuid[],
    r_curve uuid[], r_valid boolean[], r_time timestamptz[], r_metadata jsonb[],
    b_id uuid[], b_user uuid[], b_total integer[], b_success integer[],
    b_time timestamptz[], b_metadata jsonb[],
    i_batch uuid[], i_index integer[], i_record uuid[]
) RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY INVOKER
SET search_path = public, pg_temp
AS $$
DECLARE
    acting uuid;
    written integer;
    total integer := 0;
BEGIN
    FOR acting IN SELECT DISTINCT u FROM unnest(r_user || b_user) AS u LOOP
        PERFORM set_config('sigil.user_id', acting::text, true);

        INSERT INTO verification_records
            (id, user_id, document_hash, public_key_id, algorithm_id, curve_id, is_valid,
             verification_time, metadata)
        SELECT r.id, r.user_id, r.document_hash, r.public_key_id, r.algorithm_id, r.curve_id,
               r.is_valid, r.verification_time, r.metadata
        FROM unnest(r_id, r_user, r_hash, r_key, r_algorithm, r_curve, r_valid, r_time, r_metadata)
             AS r(id, user_id, document_hash, public_key_id, algorithm_id, curve_id, is_valid,
                  verification_time, metadata)
        WHERE r.user_id = acting
        ON CONFLICT (id) DO NOTHING;
        GET DIAGNOSTICS written = ROW_COUNT;
        total := total + written;

        INSERT INTO batch_verifications
            (id, user_id, total_count, success_count, verification_time, metadata)
        SELECT b.id, b.user_id, b.total_count, b.success_count, b.verification_time, b.metadata
        FROM unnest(b_id, b_user, b_total, b_success, b_time, b_metadata)
             AS b(id, user_id, total_count, success_count, verification_time, metadata)
        WHERE b.user_id = acting
        ON CONFLICT (id) DO NOTHING;

        INSERT INTO batch_verification_items (batch_id, item_index, verification_record_id)
        SELECT i.batch_id, i.item_index, i.record_id
        FROM unnest(i_batch, i_index, i_record) AS i(batch_id, item_index, record_id)
        WHERE i.batch_id IN (
            SELECT b.id FROM unnest(b_id, b_user) AS b(id, user_id) WHERE b.user_id = acting
        )
        ON CONFLICT (batch_id, item_index) DO NOTHING;
    END LOOP;
    RETURN total;
END;
$$;

REVOKE ALL ON FUNCTION record_verifications FROM PUBLIC;
GRANT EXECUTE ON FUNCTION record_verifications TO sigil_app;

-- The "an ECDSA row names its curve" trigger can only refuse a row whose
-- curve is NULL: with a WHEN clause, rows that name a curve (every ECDSA
-- and EdDSA record) no longer run PL/pgSQL on insert.
DROP TRIGGER verification_records_ecdsa_requires_curve ON verification_records;
CREATE TRIGGER verification_records_ecdsa_requires_curve
    BEFORE INSERT OR UPDATE ON verification_records
    FOR EACH ROW WHEN (NEW.curve_id IS NULL) EXECUTE FUNCTION require_curve_for_ecdsa();
