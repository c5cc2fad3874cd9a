-- A batch item is written with its record's id, and the items' batch_id
-- index that the batch's uniqueness already serves is dropped (issue 20,
-- item 3: index inserts that append, and only the indexes reads need).
--
-- 1. An item links one batch to one record, and a record belongs to one
--    item at most, so the record's id (time-ordered, chosen by the host)
--    is the item's id as well. The column's default, gen_random_uuid(),
--    put each of a batch's items at a random place in the primary key's
--    B-tree: the one index of the items that did not append. The default
--    stays for rows written by hand.
-- 2. `idx_batch_verification_items_batch_id` (the seed's) duplicates the
--    leading column of the uniqueness `(batch_id, item_index,
--    verification_time)`, which serves every read by batch (a batch's
--    items in order) and costs the same to probe.
DROP INDEX idx_batch_verification_items_batch_id;

-- record_verifications as migration 20261202000100 left it, but that each
-- item is written with its record's id.
CREATE OR REPLACE FUNCTION record_verifications(
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
    fresh_batches uuid[];
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
        ON CONFLICT (id, verification_time) DO NOTHING;
        GET DIAGNOSTICS written = ROW_COUNT;
        total := total + written;

        CONTINUE WHEN coalesce(cardinality(b_id), 0) = 0;

        WITH inserted AS (
            INSERT INTO batch_verifications
                (id, user_id, total_count, success_count, verification_time, metadata)
            SELECT b.id, b.user_id, b.total_count, b.success_count, b.verification_time, b.metadata
            FROM unnest(b_id, b_user, b_total, b_success, b_time, b_metadata)
                 AS b(id, user_id, total_count, success_count, verification_time, metadata)
            WHERE b.user_id = acting
            ON CONFLICT (id, verification_time) DO NOTHING
            RETURNING id
        )
        SELECT array_agg(id) INTO fresh_batches FROM inserted;

        -- Items of the batches written now: a batch already present (a
        -- retried group) has its items, written in its transaction. A
        -- plain INSERT, without ON CONFLICT, which would plan the items'
        -- read policy (through every partition of the batches) as well.
        CONTINUE WHEN coalesce(cardinality(fresh_batches), 0) = 0
                   OR coalesce(cardinality(i_batch), 0) = 0;

        -- An item carries its record's id and its batch's time (its
        -- record's too).
        INSERT INTO batch_verification_items
            (id, batch_id, item_index, verification_record_id, verification_time)
        SELECT i.record_id, i.batch_id, i.item_index, i.record_id, b.verification_time
        FROM unnest(i_batch, i_index, i_record) AS i(batch_id, item_index, record_id)
        JOIN unnest(b_id, b_user, b_time) AS b(id, user_id, verification_time) ON b.id = i.batch_id
        WHERE b.user_id = acting AND i.batch_id = ANY (fresh_batches);
    END LOOP;
    RETURN total;
END;
$$;
