-- Partitioned history (issue 15, item 1).
--
-- `verification_records`, `batch_verifications`, `batch_verification_items`
-- and `audit_log` become range-partitioned by time, one partition per UTC
-- day (`<table>_pYYYYMMDD`, bounds [day 00:00 UTC, next day 00:00 UTC)),
-- plus a DEFAULT partition (`<table>_default`) so that no insert is ever
-- refused for want of a partition.
--
-- Why daily: at 3000 recorded verifications per second the records table
-- gains ~260 million rows a day. A monthly partition would hold ~8 billion
-- rows (its indexes far larger than memory) and retention could only drop a
-- whole month at a time. A day is ~260 M rows, retention is exact to a day,
-- the current day's indexes stay hot, and a year is 365 partitions per
-- table, which PostgreSQL prunes at plan or executor start-up.
-- `audit_log` follows the same scheme (its rate is far lower, but one rule
-- for all four keeps the maintenance single).
--
-- What partitioning forces, against the seed's schema:
-- * A primary key or unique constraint of a partitioned table must contain
--   the partition key. `id` alone stays unique in practice (a random UUID
--   chosen by the host), but the database enforces
--   PRIMARY KEY (id, verification_time) (records, batches, items) and
--   PRIMARY KEY (id, occurred_at) (audit log); the items' seed
--   UNIQUE (batch_id, item_index) becomes UNIQUE (batch_id, item_index,
--   verification_time).
-- * A foreign key to a partitioned table must reference a unique key that
--   contains the partition key. Items therefore gain a column,
--   `verification_time`: the time of their batch, which is also the time of
--   their record (the host writes a batch, its records and its items with
--   one timestamp; this migration checks existing rows agree). The seed's
--   FOREIGN KEY (batch_id) REFERENCES batch_verifications(id) becomes
--   (batch_id, verification_time) REFERENCES batch_verifications(id,
--   verification_time) ON DELETE CASCADE, and likewise for the record.
--   An item, its batch and its record thus always live in the same day,
--   so retention drops them together.
-- * Every seed index is kept (created on the parent, hence on each
--   partition), with the same names.
--
-- Guarantees kept: the same RLS policies (FORCE'd, on the parents; the
-- items' policies now also match on time, which lets them prune), the same
-- grants (sigil_app: SELECT and INSERT on the parents, nothing at all on
-- the partitions, which it therefore cannot read or write directly), the
-- append-only triggers of the audit log (row triggers are cloned to every
-- partition; the TRUNCATE trigger is put on each partition too). Only the
-- retention function below removes history, and only whole days.
--
-- Creating or detaching a partition takes a brief exclusive lock on the
-- parent; the functions give up after 2 s (lock_timeout) rather than queue
-- inserts behind them, and the next maintenance run tries again (partitions
-- are made days ahead).
--
-- DDL on partitions is done by SECURITY DEFINER functions owned by the
-- schema owner, with a pinned search_path; sigil_app may EXECUTE them but
-- owns nothing.

DO $$
BEGIN
    IF EXISTS (
        SELECT 1 FROM batch_verification_items i
        JOIN batch_verifications b ON b.id = i.batch_id
        JOIN verification_records r ON r.id = i.verification_record_id
        WHERE r.verification_time <> b.verification_time
    ) THEN
        RAISE EXCEPTION 'batch items whose record and batch times differ cannot be partitioned together; '
                        'set the records'' verification_time to their batch''s first';
    END IF;
END
$$;

------------------------------------------------------------------------
-- Partition maintenance
------------------------------------------------------------------------

-- The advisory-lock key of partition maintenance (one host at a time).
CREATE FUNCTION sigil_history_lock_key() RETURNS bigint
LANGUAGE sql IMMUTABLE AS $$ SELECT 7297101080012000015::bigint $$;

-- The range partitions of `parent` (not the default one) and their
-- bounds, oldest first.
CREATE FUNCTION sigil_history_partitions(parent text)
RETURNS TABLE (partition_name text, lower_bound timestamptz, upper_bound timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = public, pg_temp
AS $$
    SELECT b.relname, b.lower_bound, b.upper_bound FROM (
        SELECT c.relname::text AS relname,
               substring(pg_get_expr(c.relpartbound, c.oid) FROM 'FROM \(''([^'']+)''\)')::timestamptz AS lower_bound,
               substring(pg_get_expr(c.relpartbound, c.oid) FROM 'TO \(''([^'']+)''\)')::timestamptz AS upper_bound
        FROM pg_inherits i
        JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = to_regclass(parent)
    ) AS b
    WHERE b.upper_bound IS NOT NULL
    ORDER BY b.lower_bound
$$;

-- Create the daily partitions of [first_day, last_day] that do not exist
-- yet, for the four history tables. A day whose rows already went to the
-- default partition (nothing was created ahead for it) is skipped with a
-- warning: its rows stay readable there. Returns how many partitions it
-- created.
CREATE FUNCTION sigil_history_ensure_partitions(first_day date, last_day date) RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = public, pg_temp
SET lock_timeout = '2s'
AS $$
DECLARE
    day date;
    parent text;
    part text;
    time_column text;
    lo timestamptz;
    hi timestamptz;
    in_default boolean;
    created integer := 0;
BEGIN
    IF first_day IS NULL OR last_day IS NULL OR last_day < first_day THEN
        RETURN 0;
    END IF;
    IF last_day - first_day > 4000 THEN
        RAISE EXCEPTION 'at most 4000 days of partitions per call' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM pg_advisory_xact_lock(sigil_history_lock_key());
    FOR day IN SELECT d::date FROM generate_series(first_day, last_day, interval '1 day') AS d LOOP
        lo := (day::timestamp AT TIME ZONE 'UTC');
        hi := ((day + 1)::timestamp AT TIME ZONE 'UTC');
        -- Parents first, children after: items reference batches and records.
        FOREACH parent IN ARRAY ARRAY['verification_records', 'batch_verifications',
                                      'batch_verification_items', 'audit_log'] LOOP
            part := parent || '_p' || to_char(day, 'YYYYMMDD');
            -- Covered already (by this day's partition, or by the one that
            -- holds the history older than this migration).
            CONTINUE WHEN EXISTS (
                SELECT 1 FROM sigil_history_partitions(parent) p
                WHERE p.lower_bound < hi AND p.upper_bound > lo
            );
            time_column := CASE parent WHEN 'audit_log' THEN 'occurred_at' ELSE 'verification_time' END;
            EXECUTE format('SELECT EXISTS (SELECT 1 FROM %I WHERE %I >= $1 AND %I < $2)',
                           parent || '_default', time_column, time_column)
                INTO in_default USING lo, hi;
            IF in_default THEN
                RAISE WARNING 'partition % not created: % already holds rows of that day',
                    part, parent || '_default';
                CONTINUE;
            END IF;
            EXECUTE format('CREATE TABLE %I PARTITION OF %I FOR VALUES FROM (%L) TO (%L)',
                           part, parent, lo, hi);
            IF parent = 'audit_log' THEN
                EXECUTE format('CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON %I '
                               'FOR EACH STATEMENT EXECUTE FUNCTION audit_log_is_append_only()', part);
            END IF;
            created := created + 1;
        END LOOP;
    END LOOP;
    RETURN created;
END;
$$;

-- Retention: detach and drop the partitions whose every day is before
-- `history_before` (records, batches, items) or before `audit_before`
-- (audit log); NULL keeps everything. Items go first (they reference
-- batches and records of the same day). The default partitions are never
-- dropped. Returns the names of the partitions dropped.
CREATE FUNCTION sigil_history_drop_partitions(history_before date, audit_before date)
RETURNS text[]
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = public, pg_temp
SET lock_timeout = '2s'
AS $$
DECLARE
    parent text;
    cutoff date;
    part record;
    dropped text[] := ARRAY[]::text[];
BEGIN
    PERFORM pg_advisory_xact_lock(sigil_history_lock_key());
    FOREACH parent IN ARRAY ARRAY['batch_verification_items', 'batch_verifications',
                                  'verification_records', 'audit_log'] LOOP
        cutoff := CASE parent WHEN 'audit_log' THEN audit_before ELSE history_before END;
        CONTINUE WHEN cutoff IS NULL;
        FOR part IN SELECT * FROM sigil_history_partitions(parent) p
                    WHERE p.upper_bound <= (cutoff::timestamp AT TIME ZONE 'UTC') LOOP
            EXECUTE format('ALTER TABLE %I DETACH PARTITION %I', parent, part.partition_name);
            EXECUTE format('DROP TABLE %I', part.partition_name);
            dropped := dropped || part.partition_name;
        END LOOP;
    END LOOP;
    RETURN dropped;
END;
$$;

------------------------------------------------------------------------
-- The partitioned tables
------------------------------------------------------------------------

ALTER TABLE batch_verification_items RENAME TO batch_verification_items_unpartitioned;
ALTER TABLE batch_verifications RENAME TO batch_verifications_unpartitioned;
ALTER TABLE verification_records RENAME TO verification_records_unpartitioned;
ALTER TABLE audit_log RENAME TO audit_log_unpartitioned;

CREATE TABLE verification_records (
    id                UUID NOT NULL DEFAULT gen_random_uuid(),
    user_id           UUID NOT NULL,
    document_hash     VARCHAR(128) NOT NULL,
    public_key_id     UUID NOT NULL,
    algorithm_id      UUID NOT NULL,
    curve_id          UUID NULL,
    is_valid          BOOLEAN NOT NULL,
    verification_time TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
    metadata          JSONB NULL
) PARTITION BY RANGE (verification_time);
CREATE TABLE verification_records_default PARTITION OF verification_records DEFAULT;

CREATE TABLE batch_verifications (
    id                UUID NOT NULL DEFAULT gen_random_uuid(),
    user_id           UUID NOT NULL,
    total_count       INTEGER NOT NULL,
    success_count     INTEGER NOT NULL,
    verification_time TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
    metadata          JSONB NULL,
    CONSTRAINT batch_verifications_counts_check
        CHECK (total_count >= 0 AND success_count >= 0 AND success_count <= total_count)
) PARTITION BY RANGE (verification_time);
CREATE TABLE batch_verifications_default PARTITION OF batch_verifications DEFAULT;

-- verification_time: the batch's (and the record's) time, see above. No
-- default: it must be the batch's.
CREATE TABLE batch_verification_items (
    id                     UUID NOT NULL DEFAULT gen_random_uuid(),
    batch_id               UUID NOT NULL,
    verification_record_id UUID NOT NULL,
    item_index             INTEGER NOT NULL,
    verification_time      TIMESTAMP WITH TIME ZONE NOT NULL
) PARTITION BY RANGE (verification_time);
CREATE TABLE batch_verification_items_default PARTITION OF batch_verification_items DEFAULT;

CREATE TABLE audit_log (
    id          UUID NOT NULL DEFAULT gen_random_uuid(),
    occurred_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
    actor_id    UUID NULL,
    actor_ip    VARCHAR(64) NULL,
    action      VARCHAR(64) NOT NULL,
    target_type VARCHAR(32) NULL,
    target_id   VARCHAR(128) NULL,
    outcome     VARCHAR(16) NOT NULL DEFAULT 'success'
        CONSTRAINT audit_log_outcome_check CHECK (outcome IN ('success', 'failure')),
    details     JSONB NULL
) PARTITION BY RANGE (occurred_at);
CREATE TABLE audit_log_default PARTITION OF audit_log DEFAULT;

-- The owner reads the old tables whole (FORCE would hide every row).
ALTER TABLE verification_records_unpartitioned NO FORCE ROW LEVEL SECURITY;
ALTER TABLE batch_verifications_unpartitioned NO FORCE ROW LEVEL SECURITY;
ALTER TABLE batch_verification_items_unpartitioned NO FORCE ROW LEVEL SECURITY;

-- The history older than today goes to one partition per table covering
-- [its first day, today), named after its first day: creating a daily
-- partition for every past day would take a lock per table and index in
-- this one transaction (a year of days exceeds the default lock table).
-- Retention drops that partition once its last day is past. Then today
-- and the next week, daily.
DO $$
DECLARE
    first_day date;
    today date := (now() AT TIME ZONE 'UTC')::date;
    parent text;
BEGIN
    SELECT min(d) INTO first_day FROM (
        SELECT min(verification_time AT TIME ZONE 'UTC')::date FROM verification_records_unpartitioned
        UNION ALL SELECT min(verification_time AT TIME ZONE 'UTC')::date FROM batch_verifications_unpartitioned
        UNION ALL SELECT min(occurred_at AT TIME ZONE 'UTC')::date FROM audit_log_unpartitioned
    ) AS m(d);
    IF first_day < today THEN
        FOREACH parent IN ARRAY ARRAY['verification_records', 'batch_verifications',
                                      'batch_verification_items', 'audit_log'] LOOP
            EXECUTE format('CREATE TABLE %I PARTITION OF %I FOR VALUES FROM (%L) TO (%L)',
                           parent || '_p' || to_char(first_day, 'YYYYMMDD'), parent,
                           first_day::timestamp AT TIME ZONE 'UTC', today::timestamp AT TIME ZONE 'UTC');
            IF parent = 'audit_log' THEN
                EXECUTE format('CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON %I '
                               'FOR EACH STATEMENT EXECUTE FUNCTION audit_log_is_append_only()',
                               parent || '_p' || to_char(first_day, 'YYYYMMDD'));
            END IF;
        END LOOP;
    END IF;
    PERFORM sigil_history_ensure_partitions(today, today + 7);
END
$$;

INSERT INTO verification_records SELECT * FROM verification_records_unpartitioned;
INSERT INTO batch_verifications SELECT * FROM batch_verifications_unpartitioned;
INSERT INTO batch_verification_items (id, batch_id, verification_record_id, item_index, verification_time)
SELECT i.id, i.batch_id, i.verification_record_id, i.item_index, b.verification_time
FROM batch_verification_items_unpartitioned i
JOIN batch_verifications_unpartitioned b ON b.id = i.batch_id;
INSERT INTO audit_log SELECT * FROM audit_log_unpartitioned;

DO $$
BEGIN
    IF (SELECT count(*) FROM verification_records) <> (SELECT count(*) FROM verification_records_unpartitioned)
       OR (SELECT count(*) FROM batch_verifications) <> (SELECT count(*) FROM batch_verifications_unpartitioned)
       OR (SELECT count(*) FROM batch_verification_items) <> (SELECT count(*) FROM batch_verification_items_unpartitioned)
       OR (SELECT count(*) FROM audit_log) <> (SELECT count(*) FROM audit_log_unpartitioned) THEN
        RAISE EXCEPTION 'rows were lost moving history into the partitioned tables';
    END IF;
END
$$;

-- The old tables go with their policies, triggers and foreign keys (the
-- audit log's append-only trigger refuses TRUNCATE, not DROP).
DROP TABLE batch_verification_items_unpartitioned;
DROP TABLE batch_verifications_unpartitioned;
DROP TABLE verification_records_unpartitioned;
DROP TABLE audit_log_unpartitioned;

------------------------------------------------------------------------
-- Keys, foreign keys, indexes (the seed's names)
------------------------------------------------------------------------

-- Validating a new foreign key reads the referenced table as its owner,
-- and FORCE'd row-level security would hide public_keys from that read:
-- lifted for the validation only (this transaction; sigil_app is unaffected).
ALTER TABLE public_keys NO FORCE ROW LEVEL SECURITY;

ALTER TABLE verification_records
    ADD CONSTRAINT verification_records_pkey PRIMARY KEY (id, verification_time),
    ADD CONSTRAINT verification_records_user_id_fkey FOREIGN KEY (user_id) REFERENCES users(id),
    ADD CONSTRAINT verification_records_public_key_id_fkey FOREIGN KEY (public_key_id) REFERENCES public_keys(id),
    ADD CONSTRAINT verification_records_algorithm_id_fkey FOREIGN KEY (algorithm_id) REFERENCES algorithms(id),
    ADD CONSTRAINT verification_records_curve_id_fkey FOREIGN KEY (curve_id) REFERENCES curves(id),
    ADD CONSTRAINT verification_records_curve_algorithm_fkey FOREIGN KEY (curve_id, algorithm_id)
        REFERENCES curves(id, algorithm_id);
CREATE INDEX idx_verification_records_user_id ON verification_records(user_id);
CREATE INDEX idx_verification_records_public_key_id ON verification_records(public_key_id);
CREATE INDEX idx_verification_records_verification_time ON verification_records(verification_time);
CREATE INDEX idx_verification_records_user_time_id
    ON verification_records(user_id, verification_time DESC, id DESC);
CREATE TRIGGER verification_records_ecdsa_requires_curve
    BEFORE INSERT OR UPDATE ON verification_records
    FOR EACH ROW WHEN (NEW.curve_id IS NULL) EXECUTE FUNCTION require_curve_for_ecdsa();

ALTER TABLE batch_verifications
    ADD CONSTRAINT batch_verifications_pkey PRIMARY KEY (id, verification_time),
    ADD CONSTRAINT batch_verifications_user_id_fkey FOREIGN KEY (user_id) REFERENCES users(id);
CREATE INDEX idx_batch_verifications_user_id ON batch_verifications(user_id);
CREATE INDEX idx_batch_verifications_verification_time ON batch_verifications(verification_time);
-- Batch pages: newest first with the id tiebreak (the cursor's order).
CREATE INDEX idx_batch_verifications_time_id ON batch_verifications(verification_time DESC, id DESC);

ALTER TABLE batch_verification_items
    ADD CONSTRAINT batch_verification_items_pkey PRIMARY KEY (id, verification_time),
    ADD CONSTRAINT batch_verification_items_batch_id_fkey FOREIGN KEY (batch_id, verification_time)
        REFERENCES batch_verifications(id, verification_time) ON DELETE CASCADE,
    ADD CONSTRAINT batch_verification_items_verification_record_id_fkey
        FOREIGN KEY (verification_record_id, verification_time)
        REFERENCES verification_records(id, verification_time),
    ADD CONSTRAINT batch_verification_items_batch_id_item_index_key
        UNIQUE (batch_id, item_index, verification_time);
CREATE INDEX idx_batch_verification_items_batch_id ON batch_verification_items(batch_id);
CREATE INDEX idx_batch_verification_items_verification_record_id
    ON batch_verification_items(verification_record_id);

ALTER TABLE public_keys FORCE ROW LEVEL SECURITY;

ALTER TABLE audit_log ADD CONSTRAINT audit_log_pkey PRIMARY KEY (id, occurred_at);
CREATE INDEX idx_audit_log_occurred_at ON audit_log(occurred_at DESC, id DESC);
CREATE INDEX idx_audit_log_actor_id ON audit_log(actor_id);
CREATE INDEX idx_audit_log_action ON audit_log(action);
CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_is_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_is_append_only();
-- Statement triggers are not cloned to partitions: the TRUNCATE guard is
-- put on each partition (sigil_history_ensure_partitions does it for the
-- daily ones).
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log_default
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_is_append_only();

------------------------------------------------------------------------
-- Row-level security (migrations 2 and 5, on the new parents)
------------------------------------------------------------------------

ALTER TABLE verification_records ENABLE ROW LEVEL SECURITY;
ALTER TABLE verification_records FORCE ROW LEVEL SECURITY;
CREATE POLICY verification_records_owner_or_admin ON verification_records
    USING (user_id = (SELECT sigil_current_user_id()) OR (SELECT sigil_current_user_is_admin()))
    WITH CHECK (
        user_id = (SELECT sigil_current_user_id())
        AND EXISTS (SELECT 1 FROM public_keys k WHERE k.id = public_key_id)
    );

ALTER TABLE batch_verifications ENABLE ROW LEVEL SECURITY;
ALTER TABLE batch_verifications FORCE ROW LEVEL SECURITY;
CREATE POLICY batch_verifications_owner_or_admin ON batch_verifications
    USING (user_id = (SELECT sigil_current_user_id()) OR (SELECT sigil_current_user_is_admin()))
    WITH CHECK (user_id = (SELECT sigil_current_user_id()));

ALTER TABLE batch_verification_items ENABLE ROW LEVEL SECURITY;
ALTER TABLE batch_verification_items FORCE ROW LEVEL SECURITY;
CREATE POLICY batch_verification_items_via_batch ON batch_verification_items
    USING (EXISTS (
        SELECT 1 FROM batch_verifications b
        WHERE b.id = batch_id AND b.verification_time = batch_verification_items.verification_time
    ))
    WITH CHECK (
        EXISTS (
            SELECT 1 FROM batch_verifications b
            WHERE b.id = batch_id AND b.verification_time = batch_verification_items.verification_time
              AND b.user_id = (SELECT sigil_current_user_id())
        )
        AND EXISTS (
            SELECT 1 FROM verification_records r
            WHERE r.id = verification_record_id
              AND r.verification_time = batch_verification_items.verification_time
              AND r.user_id = (SELECT sigil_current_user_id())
        )
    );

-- `sigil export` (connected as the schema owner) reads every user's
-- history: a SELECT-only policy for the role that owns the tables (which
-- could switch RLS off anyway), and only in a transaction that sets
-- sigil.export = 'on', so a service that connects as the owner still
-- sees only its user's rows.
DO $$
DECLARE
    tab text;
BEGIN
    FOREACH tab IN ARRAY ARRAY['verification_records', 'batch_verifications', 'batch_verification_items'] LOOP
        EXECUTE format('CREATE POLICY %I ON %I FOR SELECT TO %I '
                       'USING (current_setting(''sigil.export'', true) = ''on'')',
                       tab || '_export', tab, current_user);
    END LOOP;
END
$$;

------------------------------------------------------------------------
-- Grants (migration 3)
------------------------------------------------------------------------

GRANT SELECT, INSERT ON verification_records, batch_verifications, batch_verification_items TO sigil_app;
GRANT SELECT, INSERT ON audit_log TO sigil_app;
REVOKE ALL ON FUNCTION sigil_history_ensure_partitions(date, date) FROM PUBLIC;
REVOKE ALL ON FUNCTION sigil_history_drop_partitions(date, date) FROM PUBLIC;
REVOKE ALL ON FUNCTION sigil_history_partitions(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION sigil_history_ensure_partitions(date, date) TO sigil_app;
GRANT EXECUTE ON FUNCTION sigil_history_drop_partitions(date, date) TO sigil_app;
GRANT EXECUTE ON FUNCTION sigil_history_partitions(text) TO sigil_app;
GRANT EXECUTE ON FUNCTION sigil_history_lock_key() TO sigil_app;

------------------------------------------------------------------------
-- record_verifications (migration 6) on the new keys
------------------------------------------------------------------------

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

        INSERT INTO batch_verifications
            (id, user_id, total_count, success_count, verification_time, metadata)
        SELECT b.id, b.user_id, b.total_count, b.success_count, b.verification_time, b.metadata
        FROM unnest(b_id, b_user, b_total, b_success, b_time, b_metadata)
             AS b(id, user_id, total_count, success_count, verification_time, metadata)
        WHERE b.user_id = acting
        ON CONFLICT (id, verification_time) DO NOTHING;

        -- An item carries its batch's time (its record's too).
        INSERT INTO batch_verification_items (batch_id, item_index, verification_record_id, verification_time)
        SELECT i.batch_id, i.item_index, i.record_id, b.verification_time
        FROM unnest(i_batch, i_index, i_record) AS i(batch_id, item_index, record_id)
        JOIN unnest(b_id, b_user, b_time) AS b(id, user_id, verification_time) ON b.id = i.batch_id
        WHERE b.user_id = acting
        ON CONFLICT (batch_id, item_index, verification_time) DO NOTHING;
    END LOOP;
    RETURN total;
END;
$$;
