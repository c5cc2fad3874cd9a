-- Batch items check their batch and record once per statement instead of
-- once per row (issue 20, item 3: recording cheap for PostgreSQL without
-- weakening what is stored).
--
-- Why: the items' two foreign keys reference partitioned tables. For each
-- inserted item PostgreSQL ran two referential-integrity queries through
-- the partitioned parents and took a FOR KEY SHARE lock on the batch row
-- and on the record row. Measured with `record_verifications` writing
-- batches of 1000 (1000 records, the batch, 1000 items) as sigil_app, the
-- two foreign keys were about half of PostgreSQL's CPU per item
-- (BENCHMARKS.md, "Recording a batch item"). What they guaranteed stays:
--
-- * Insert: after each INSERT statement into `batch_verification_items`,
--   one set query over the statement's new rows (a transition table)
--   refuses the whole statement (SQLSTATE 23503, as the foreign key did)
--   if any item names a batch or a record, at the item's
--   `verification_time`, that does not exist. It reads as the schema owner
--   with every row visible (`sigil.export`, the owner's read-everything
--   policy, on for the check only), as a foreign key sees rows whatever
--   their policies. Ownership stays the items' row-level policy's job
--   (their batch and record must be the acting user's).
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

-- After INSERT on items, per statement: every new item's batch and record
-- exist at its time.
CREATE FUNCTION batch_items_name_existing_rows() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
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
    orphan record;
    has_orphan boolean;
    caller_export text := current_setting('sigil.export', true);
BEGIN
    PERFORM set_config('sigil.export', 'on', true);
    -- Two anti-joins, not one with OR: an OR of NOT EXISTS is planned as
    -- hashed subplans over the whole tables.
    SELECT i.batch_id, i.verification_record_id, i.verification_time INTO orphan
    FROM new_items i
    WHERE NOT EXISTS (SELECT 1 FROM batch_verifications b
                      WHERE b.id = i.batch_id AND b.verification_time = i.verification_time)
    LIMIT 1;
    has_orphan := FOUND;
    IF NOT has_orphan THEN
        SELECT i.batch_id, i.verification_record_id, i.verification_time INTO orphan
        FROM new_items i
        WHERE NOT EXISTS (SELECT 1 FROM verification_records r
                          WHERE r.id = i.verification_record_id
                            AND r.verification_time = i.verification_time)
        LIMIT 1;
        has_orphan := FOUND;
    END IF;
    PERFORM set_config('sigil.export', coalesce(caller_export, ''), true);
    IF has_orphan THEN
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
