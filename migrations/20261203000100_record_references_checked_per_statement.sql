-- A record's references are checked once per statement instead of once
-- per row, and the items' check probes each item by key whatever the
-- statistics say (issue 20, item 3: recording cheap for PostgreSQL
-- without weakening what is stored).
--
-- 1. The items' check of migration 20261202000100 was planned as an
--    anti-join. On a day partition whose statistics did not yet count the
--    acting user's rows (a new day, or a user new to the day), PostgreSQL
--    estimated two rows for `user_id = acting`, read them once through
--    (user_id, verification_time, id) and compared every item with every
--    record: a batch of 1000 items made 499 500 comparisons, 97 ms of the
--    145 ms its recording cost (auto_explain, BENCHMARKS.md). Each probe is
--    now a subquery fenced with OFFSET 0, which PostgreSQL does not turn
--    into a join: it runs once per item with the item's batch or record
--    as parameters, an index probe by key whatever the estimates are.
--
-- 2. The records' five foreign keys (user, key, algorithm, curve, and the
--    curve's algorithm) ran a referential-integrity query and took a
--    FOR KEY SHARE lock for every row: a third of PostgreSQL's CPU per
--    item of a batch. The rows of one statement name few distinct users,
--    keys, algorithms and curves (a batch: one of each, most often), so
--    one set query per statement does the same work. What the foreign keys
--    guaranteed stays:
--
--    * Insert: after each INSERT statement into `verification_records`,
--      the distinct users, keys, algorithms, curves and (curve,
--      algorithm) pairs the new rows name are looked up and locked
--      FOR KEY SHARE, as the foreign keys locked them (a concurrent
--      DELETE of one waits for this transaction, and then sees its
--      records). One that does not exist refuses the statement with
--      SQLSTATE 23503 under the foreign key's name. The check runs as the
--      writer: row-level security already asks that a record's key be
--      visible to a writer it applies to, and locking needs the UPDATE
--      privilege the service's role has on these tables.
--    * Delete, and update of a referenced key column: refused while a
--      record names the row (the foreign keys' NO ACTION), with 23503
--      under the foreign key's name, so callers report it as before
--      (`user_has_history`, a key's history). The lookup reads every
--      record whatever row-level security would show the caller, as a
--      foreign key's does.
--
--    TRUNCATE of a referenced table is no longer refused by PostgreSQL;
--    the application role has no TRUNCATE privilege, and the schema owner
--    is trusted with it as with disabling triggers.

------------------------------------------------------------------------
-- 1. The items' check: one index probe per item
------------------------------------------------------------------------

CREATE OR REPLACE FUNCTION batch_items_name_existing_rows() RETURNS trigger
LANGUAGE plpgsql SECURITY INVOKER
SET search_path = public, pg_temp
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
    -- statement's partitions. OFFSET 0 keeps each NOT EXISTS a subquery
    -- run per item (PostgreSQL pulls up only an EXISTS without OFFSET),
    -- so its item's key is a parameter of an index probe.
    EXECUTE format(
        'SELECT i.batch_id, i.verification_record_id, i.verification_time FROM new_items i
         WHERE NOT EXISTS (SELECT 1 FROM batch_verifications b
                           WHERE b.id = i.batch_id AND b.verification_time = i.verification_time
                             AND b.verification_time BETWEEN %1$L AND %2$L
                             AND (NOT %3$L OR b.user_id = %4$L)
                           OFFSET 0)
            OR NOT EXISTS (SELECT 1 FROM verification_records r
                           WHERE r.id = i.verification_record_id
                             AND r.verification_time = i.verification_time
                             AND r.verification_time BETWEEN %1$L AND %2$L
                             AND (NOT %3$L OR r.user_id = %4$L)
                           OFFSET 0)
         LIMIT 1', first_time, last_time, owned, acting)
        INTO orphan;
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

-- A probe by key must find no cheaper-looking index that is not one: the
-- records of a batch share one verification_time and one user, so an
-- index on either alone, chosen for a probe whose estimate is one row
-- (as every index's is on a partition without statistics), would read
-- the whole batch for each item. The seed's time index becomes
-- (verification_time DESC, id DESC), the order the history pages in
-- (as batch_verifications' idx_batch_verifications_time_id), so a probe
-- by time and id through it is a point lookup too; the user index goes,
-- as (user_id, verification_time DESC, id DESC) serves every query by
-- user it served.
DROP INDEX idx_verification_records_verification_time;
CREATE INDEX idx_verification_records_verification_time
    ON verification_records (verification_time DESC, id DESC);
DROP INDEX idx_verification_records_user_id;

------------------------------------------------------------------------
-- 2. The records' references: once per statement
------------------------------------------------------------------------

ALTER TABLE verification_records
    DROP CONSTRAINT verification_records_user_id_fkey,
    DROP CONSTRAINT verification_records_public_key_id_fkey,
    DROP CONSTRAINT verification_records_algorithm_id_fkey,
    DROP CONSTRAINT verification_records_curve_id_fkey,
    DROP CONSTRAINT verification_records_curve_algorithm_fkey;

-- After INSERT on records, per statement: every user, key, algorithm,
-- curve and (curve, algorithm) the new rows name exists, locked as a
-- foreign key locks it.
-- Generic plans always: with the default `auto`, perf showed PostgreSQL
-- planning this function's queries again on every statement, a third of
-- the trigger's CPU; their generic plans (index probes by = ANY of the
-- distinct values) are the right ones for any number of values.
CREATE FUNCTION records_name_existing_references() RETURNS trigger
LANGUAGE plpgsql SECURITY INVOKER
SET search_path = public, pg_temp
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
    wanted_users uuid[];
    wanted_keys uuid[];
    wanted_algorithms uuid[];
    wanted_curves uuid[];
    -- (curve, algorithm) pairs as 'curve:algorithm': a record's curve
    -- must be of the record's algorithm (the seed's two curve keys).
    wanted_pairs text[];
    locked bigint;
BEGIN
    -- One pass over the statement's rows (one aggregate), then one
    -- index probe and lock per distinct value: no per-row work beyond
    -- the first query.
    SELECT array_agg(DISTINCT user_id), array_agg(DISTINCT public_key_id),
           array_agg(DISTINCT algorithm_id),
           array_agg(DISTINCT curve_id) FILTER (WHERE curve_id IS NOT NULL),
           array_agg(DISTINCT curve_id::text || ':' || algorithm_id::text) FILTER (WHERE curve_id IS NOT NULL)
      INTO wanted_users, wanted_keys, wanted_algorithms, wanted_curves, wanted_pairs
      FROM new_records;
    IF wanted_users IS NULL THEN
        RETURN NULL;
    END IF;

    PERFORM 1 FROM users u WHERE u.id = ANY (wanted_users) FOR KEY SHARE OF u;
    GET DIAGNOSTICS locked = ROW_COUNT;
    IF locked <> cardinality(wanted_users) THEN
        RAISE EXCEPTION 'a verification record names a user that does not exist'
            USING ERRCODE = 'foreign_key_violation', TABLE = 'verification_records',
                  CONSTRAINT = 'verification_records_user_id_fkey';
    END IF;

    PERFORM 1 FROM public_keys k WHERE k.id = ANY (wanted_keys) FOR KEY SHARE OF k;
    GET DIAGNOSTICS locked = ROW_COUNT;
    IF locked <> cardinality(wanted_keys) THEN
        RAISE EXCEPTION 'a verification record names a public key that does not exist'
            USING ERRCODE = 'foreign_key_violation', TABLE = 'verification_records',
                  CONSTRAINT = 'verification_records_public_key_id_fkey';
    END IF;

    PERFORM 1 FROM algorithms a WHERE a.id = ANY (wanted_algorithms) FOR KEY SHARE OF a;
    GET DIAGNOSTICS locked = ROW_COUNT;
    IF locked <> cardinality(wanted_algorithms) THEN
        RAISE EXCEPTION 'a verification record names an algorithm that does not exist'
            USING ERRCODE = 'foreign_key_violation', TABLE = 'verification_records',
                  CONSTRAINT = 'verification_records_algorithm_id_fkey';
    END IF;

    IF wanted_pairs IS NULL THEN
        RETURN NULL;
    END IF;
    -- A curve has one algorithm, so it matches at most one pair: every
    -- pair matches iff as many curves match as there are pairs.
    PERFORM 1 FROM curves c
     WHERE c.id = ANY (wanted_curves)
       AND c.id::text || ':' || c.algorithm_id::text = ANY (wanted_pairs)
       FOR KEY SHARE OF c;
    GET DIAGNOSTICS locked = ROW_COUNT;
    IF locked <> cardinality(wanted_pairs) THEN
        RAISE EXCEPTION 'a verification record names a curve that does not exist or is not of its algorithm'
            USING ERRCODE = 'foreign_key_violation', TABLE = 'verification_records',
                  CONSTRAINT = 'verification_records_curve_algorithm_fkey';
    END IF;
    RETURN NULL;
END;
$$;
CREATE TRIGGER records_name_existing_references
    AFTER INSERT ON verification_records
    REFERENCING NEW TABLE AS new_records
    FOR EACH STATEMENT EXECUTE FUNCTION records_name_existing_references();

-- Before DELETE of a referenced row, or UPDATE of a referenced column:
-- refused while a record names the row. TG_ARGV: the record's column that
-- names this table's `id`, and the foreign key's name to report.
CREATE FUNCTION rows_named_by_records_stay() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = public, pg_temp
AS $$
DECLARE
    caller_export text := current_setting('sigil.export', true);
    named boolean;
BEGIN
    PERFORM set_config('sigil.export', 'on', true);
    EXECUTE format('SELECT EXISTS (SELECT 1 FROM verification_records WHERE %I = $1)', TG_ARGV[0])
        INTO named USING OLD.id;
    PERFORM set_config('sigil.export', coalesce(caller_export, ''), true);
    IF named THEN
        RAISE EXCEPTION 'update or delete on table "%" violates foreign key constraint "%" on table "verification_records"',
                TG_TABLE_NAME, TG_ARGV[1]
            USING ERRCODE = 'foreign_key_violation', TABLE = 'verification_records',
                  CONSTRAINT = TG_ARGV[1],
                  DETAIL = format('Key (id)=(%s) is still referenced from table "verification_records".', OLD.id);
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER users_named_by_records_stay
    BEFORE DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION rows_named_by_records_stay('user_id', 'verification_records_user_id_fkey');
CREATE TRIGGER users_named_by_records_keep_their_id
    BEFORE UPDATE OF id ON users
    FOR EACH ROW WHEN (OLD.id IS DISTINCT FROM NEW.id)
    EXECUTE FUNCTION rows_named_by_records_stay('user_id', 'verification_records_user_id_fkey');

CREATE TRIGGER public_keys_named_by_records_stay
    BEFORE DELETE ON public_keys
    FOR EACH ROW EXECUTE FUNCTION rows_named_by_records_stay('public_key_id', 'verification_records_public_key_id_fkey');
CREATE TRIGGER public_keys_named_by_records_keep_their_id
    BEFORE UPDATE OF id ON public_keys
    FOR EACH ROW WHEN (OLD.id IS DISTINCT FROM NEW.id)
    EXECUTE FUNCTION rows_named_by_records_stay('public_key_id', 'verification_records_public_key_id_fkey');

CREATE TRIGGER algorithms_named_by_records_stay
    BEFORE DELETE ON algorithms
    FOR EACH ROW EXECUTE FUNCTION rows_named_by_records_stay('algorithm_id', 'verification_records_algorithm_id_fkey');
CREATE TRIGGER algorithms_named_by_records_keep_their_id
    BEFORE UPDATE OF id ON algorithms
    FOR EACH ROW WHEN (OLD.id IS DISTINCT FROM NEW.id)
    EXECUTE FUNCTION rows_named_by_records_stay('algorithm_id', 'verification_records_algorithm_id_fkey');

CREATE TRIGGER curves_named_by_records_stay
    BEFORE DELETE ON curves
    FOR EACH ROW EXECUTE FUNCTION rows_named_by_records_stay('curve_id', 'verification_records_curve_algorithm_fkey');
CREATE TRIGGER curves_named_by_records_keep_their_keys
    BEFORE UPDATE OF id, algorithm_id ON curves
    FOR EACH ROW WHEN (OLD.id IS DISTINCT FROM NEW.id OR OLD.algorithm_id IS DISTINCT FROM NEW.algorithm_id)
    EXECUTE FUNCTION rows_named_by_records_stay('curve_id', 'verification_records_curve_algorithm_fkey');

REVOKE ALL ON FUNCTION records_name_existing_references() FROM PUBLIC;
REVOKE ALL ON FUNCTION rows_named_by_records_stay() FROM PUBLIC;
