-- Batch items check their batch and record once per statement instead of
-- once per row (issue 20, item 3: recording cheap for PostgreSQL without
-- weakening what is stored), and a group without batches writes no items.
--
-- Why: for each inserted item PostgreSQL ran the items' two foreign keys
-- (a referential-integrity query through the partitioned batches and
-- records, and a FOR KEY SHARE lock on each referenced row) and the two
-- EXISTS of the items' row-level WITH CHECK (through the same partitioned
-- tables). Their plans are generic: each statement initialises and locks
-- every partition of both tables, so the cost grew with the history kept.
-- Measured as sigil_app with `record_verifications` (BENCHMARKS.md,
-- "Recording a batch item"): with a week of partitions the foreign keys
-- were half of PostgreSQL's CPU per item of a batch of 1000; with a year
-- of daily partitions one commit of a single record cost 30 ms of
-- PostgreSQL CPU, 20 ms of it the items' policy planned for an empty
-- insert. What they guaranteed stays:
--
-- * Insert: after each INSERT statement into `batch_verification_items`,
--   one set query over the statement's new rows (a transition table),
--   bounded to the statement's days so that only their partitions are
--   planned, refuses the whole statement if an item names a batch or a
--   record that does not exist at the item's `verification_time`
--   (SQLSTATE 23503, as the foreign key did) or, where row-level security
--   applies to the writer, that the acting user does not own (42501, as
--   the policy did: the policy's WITH CHECK now asks only that someone is
--   acting, and leaves ownership to this check). The check runs as the
--   writer, so it sees what the writer's policies let it see.
-- * Delete: deleting a batch deletes its items first (the seed's ON DELETE
--   CASCADE, as a row trigger); deleting a record that an item names is
--   refused (the foreign key's NO ACTION). The application role may delete
--   neither (it has SELECT and INSERT only); retention drops whole days of
--   items, batches and records together, items first, which fires no row
--   trigger.
-- * Update: the columns that tie an item to its batch and record, and the
--   keys of batches and records, are never rewritten (the application role
--   has no UPDATE; for anyone else a trigger refuses, where a foreign key
--   would have checked the new value).
--
-- Rows written straight into a partition skip the statement check. The
-- application role has no privilege on partitions; the schema owner, who
-- can, is trusted with that as with disabling triggers.

ALTER TABLE batch_verification_items
    DROP CONSTRAINT batch_verification_items_batch_id_fkey,
    DROP CONSTRAINT batch_verification_items_verification_record_id_fkey;

-- The items' policy: reads as before (through a visible batch); writes
-- only while someone is acting, ownership checked per statement below.
DROP POLICY batch_verification_items_via_batch ON batch_verification_items;
CREATE POLICY batch_verification_items_via_batch ON batch_verification_items
    USING (EXISTS (
        SELECT 1 FROM batch_verifications b
        WHERE b.id = batch_id AND b.verification_time = batch_verification_items.verification_time
    ))
    WITH CHECK ((SELECT sigil_current_user_id()) IS NOT NULL);

-- After INSERT on items, per statement: every new item's batch and record
-- exist at its time and, under row-level security, are the acting user's.
CREATE FUNCTION batch_items_name_existing_rows() RETURNS trigger
LANGUAGE plpgsql SECURITY INVOKER
SET search_path = public, pg_temp
-- Each new item probes the primary-key index of its day (a nested-loop
-- anti-join): never a hash or a scan of a whole day's partition, whose
-- cost would grow with the day's rows instead of the statement's (a new
-- day's partition, not yet analysed, would otherwise be planned as empty).
SET enable_hashjoin = off
SET enable_mergejoin = off
SET enable_seqscan = off
AS $$
DECLARE
    first_time timestamptz;
    last_time timestamptz;
    owned boolean := row_security_active('batch_verification_items');
    acting uuid := sigil_current_user_id();
    orphan record;
BEGIN
    SELECT min(verification_time), max(verification_time) INTO first_time, last_time FROM new_items;
    IF first_time IS NULL THEN
        RETURN NULL;
    END IF;
    -- Literal bounds (not parameters) let the planner keep only the
    -- statement's partitions. Two anti-joins, not one with OR: an OR of
    -- NOT EXISTS is planned as hashed subplans over the whole tables.
    EXECUTE format(
        'SELECT i.batch_id, i.verification_record_id, i.verification_time FROM new_items i
         WHERE NOT EXISTS (SELECT 1 FROM batch_verifications b
                           WHERE b.id = i.batch_id AND b.verification_time = i.verification_time
                             AND b.verification_time BETWEEN %1$L AND %2$L
                             AND (NOT %3$L OR b.user_id = %4$L))
         LIMIT 1', first_time, last_time, owned, acting)
        INTO orphan;
    IF orphan IS NULL THEN
        EXECUTE format(
            'SELECT i.batch_id, i.verification_record_id, i.verification_time FROM new_items i
             WHERE NOT EXISTS (SELECT 1 FROM verification_records r
                               WHERE r.id = i.verification_record_id
                                 AND r.verification_time = i.verification_time
                                 AND r.verification_time BETWEEN %1$L AND %2$L
                                 AND (NOT %3$L OR r.user_id = %4$L))
             LIMIT 1', first_time, last_time, owned, acting)
            INTO orphan;
    END IF;
    IF orphan IS NOT NULL THEN
        IF owned THEN
            RAISE EXCEPTION 'new row violates row-level security policy for table "batch_verification_items"'
                USING ERRCODE = 'insufficient_privilege',
                      DETAIL = 'An item must name a batch and a record of the acting user, at its time.';
        END IF;
        RAISE EXCEPTION 'a batch item names a batch or record that does not exist'
            USING ERRCODE = 'foreign_key_violation',
                  DETAIL = format('batch %s, record %s at %s', orphan.batch_id,
                                  orphan.verification_record_id, orphan.verification_time);
    END IF;
    RETURN NULL;
END;
$$;
CREATE TRIGGER batch_items_name_existing_rows
    AFTER INSERT ON batch_verification_items
    REFERENCING NEW TABLE AS new_items
    FOR EACH STATEMENT EXECUTE FUNCTION batch_items_name_existing_rows();

-- Before DELETE of a batch: its items go first (ON DELETE CASCADE).
CREATE FUNCTION batch_items_follow_their_batch() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = public, pg_temp
AS $$
DECLARE
    caller_export text := current_setting('sigil.export', true);
BEGIN
    PERFORM set_config('sigil.export', 'on', true);
    DELETE FROM batch_verification_items
    WHERE batch_id = OLD.id AND verification_time = OLD.verification_time;
    PERFORM set_config('sigil.export', coalesce(caller_export, ''), true);
    RETURN OLD;
END;
$$;
CREATE TRIGGER batch_items_follow_their_batch
    BEFORE DELETE ON batch_verifications
    FOR EACH ROW EXECUTE FUNCTION batch_items_follow_their_batch();

-- Before DELETE of a record: refused while an item names it (NO ACTION).
CREATE FUNCTION records_named_by_items_stay() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = public, pg_temp
AS $$
DECLARE
    caller_export text := current_setting('sigil.export', true);
    named boolean;
BEGIN
    PERFORM set_config('sigil.export', 'on', true);
    named := EXISTS (SELECT 1 FROM batch_verification_items i
               WHERE i.verification_record_id = OLD.id
                 AND i.verification_time = OLD.verification_time);
    PERFORM set_config('sigil.export', coalesce(caller_export, ''), true);
    IF named THEN
        RAISE EXCEPTION 'verification record % is named by a batch item', OLD.id
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN OLD;
END;
$$;
CREATE TRIGGER records_named_by_items_stay
    BEFORE DELETE ON verification_records
    FOR EACH ROW EXECUTE FUNCTION records_named_by_items_stay();

-- Before UPDATE of the columns that tie history rows together: refused.
CREATE FUNCTION history_links_are_not_rewritten() RETURNS trigger
LANGUAGE plpgsql
SET search_path = public, pg_temp
AS $$
BEGIN
    RAISE EXCEPTION 'the keys and links of % rows are not rewritten', TG_TABLE_NAME
        USING ERRCODE = 'foreign_key_violation';
END;
$$;
CREATE TRIGGER batch_items_links_are_kept
    BEFORE UPDATE OF batch_id, verification_record_id, verification_time ON batch_verification_items
    FOR EACH ROW EXECUTE FUNCTION history_links_are_not_rewritten();
CREATE TRIGGER batch_keys_are_kept
    BEFORE UPDATE OF id, verification_time ON batch_verifications
    FOR EACH ROW EXECUTE FUNCTION history_links_are_not_rewritten();
CREATE TRIGGER record_keys_are_kept
    BEFORE UPDATE OF id, verification_time ON verification_records
    FOR EACH ROW EXECUTE FUNCTION history_links_are_not_rewritten();

REVOKE ALL ON FUNCTION batch_items_name_existing_rows() FROM PUBLIC;
REVOKE ALL ON FUNCTION batch_items_follow_their_batch() FROM PUBLIC;
REVOKE ALL ON FUNCTION records_named_by_items_stay() FROM PUBLIC;
REVOKE ALL ON FUNCTION history_links_are_not_rewritten() FROM PUBLIC;

-- record_verifications (migration 20261201000700) writes batches and items
-- only when the group has some: a group of single verifications runs one
-- INSERT per acting user, not three (an empty INSERT still plans the
-- table's policies and fires its statement trigger). Items are written
-- for the batches the statement inserted, without ON CONFLICT.
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

        -- An item carries its batch's time (its record's too).
        INSERT INTO batch_verification_items (batch_id, item_index, verification_record_id, verification_time)
        SELECT i.batch_id, i.item_index, i.record_id, b.verification_time
        FROM unnest(i_batch, i_index, i_record) AS i(batch_id, item_index, record_id)
        JOIN unnest(b_id, b_user, b_time) AS b(id, user_id, verification_time) ON b.id = i.batch_id
        WHERE b.user_id = acting AND i.batch_id = ANY (fresh_batches);
    END LOOP;
    RETURN total;
END;
$$;
