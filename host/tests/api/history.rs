//! Partitioned history (issue 15): daily partitions created ahead by the
//! maintenance task of `sigil serve`, retention dropping whole days with
//! their rows, cursor pagination across a partition boundary, plans that
//! touch only the partitions in range, and `sigil export`.

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::{DateTime, Days, NaiveDate, TimeDelta, Utc};
use serde_json::Value;
use sigil::config::HistoryConfig;
use sigil::store::history::{self, ExportFormat};
use sqlx::PgPool;
use uuid::Uuid;

use crate::helpers::app::TestApp;

const TABLES: [&str; 4] = [
    "verification_records",
    "batch_verifications",
    "batch_verification_items",
    "audit_log",
];

fn today() -> NaiveDate {
    Utc::now().date_naive()
}

fn day(offset: i64) -> NaiveDate {
    if offset >= 0 {
        today() + Days::new(offset.unsigned_abs())
    } else {
        today() - Days::new(offset.unsigned_abs())
    }
}

/// One maintenance run, waiting (up to 30 s) while the application's own
/// start-up run holds the advisory lock.
async fn maintain(app: &TestApp, settings: &HistoryConfig) -> history::Maintenance {
    let started = std::time::Instant::now();
    loop {
        let run = app
            .state
            .store
            .maintain_history(settings, today())
            .await
            .expect("maintenance");
        if let Some(run) = run {
            return run;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the maintenance lock stayed held"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn midnight(day: NaiveDate) -> DateTime<Utc> {
    day.and_hms_opt(0, 0, 0).expect("midnight").and_utc()
}

fn partition(table: &str, day: NaiveDate) -> String {
    format!("{table}_p{}", day.format("%Y%m%d"))
}

/// The partitions of `table` (daily and default), by name.
async fn partitions(db: &PgPool, table: &str) -> BTreeSet<String> {
    sqlx::query_scalar(
        "SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
         WHERE i.inhparent = $1::regclass",
    )
    .bind(table)
    .fetch_all(db)
    .await
    .expect("partitions")
    .into_iter()
    .collect()
}

/// A P-256 key of `user` (as superuser): (key, algorithm, curve).
async fn key_of(db: &PgPool, user: Uuid) -> (Uuid, Uuid, Uuid) {
    sqlx::query_as(
        "INSERT INTO public_keys (user_id, algorithm_id, curve_id, key_data, format)
         SELECT $1, c.algorithm_id, c.id, 'key', 'PEM' FROM curves c WHERE c.name = 'P-256'
         RETURNING id, algorithm_id, curve_id",
    )
    .bind(user)
    .fetch_one(db)
    .await
    .expect("key")
}

/// A record of `user` on `key` at `at` (as superuser); its id.
async fn record_at(db: &PgPool, user: Uuid, key: (Uuid, Uuid, Uuid), at: DateTime<Utc>) -> Uuid {
    sqlx::query_scalar(
        "INSERT INTO verification_records
             (user_id, document_hash, public_key_id, algorithm_id, curve_id, is_valid, verification_time, metadata)
         VALUES ($1, 'ab,\"cd\"', $2, $3, $4, true, $5, '{\"note\": \"a, \\\"quoted\\\" cell\"}') RETURNING id",
    )
    .bind(user)
    .bind(key.0)
    .bind(key.1)
    .bind(key.2)
    .bind(at)
    .fetch_one(db)
    .await
    .expect("record")
}

/// A batch of `user` at the time of `record`, with the record as item 0.
async fn batch_with(db: &PgPool, user: Uuid, record: Uuid) -> Uuid {
    let batch: Uuid = sqlx::query_scalar(
        "INSERT INTO batch_verifications (user_id, total_count, success_count, verification_time)
         SELECT $1, 1, 1, verification_time FROM verification_records WHERE id = $2 RETURNING id",
    )
    .bind(user)
    .bind(record)
    .fetch_one(db)
    .await
    .expect("batch");
    sqlx::query(
        "INSERT INTO batch_verification_items (batch_id, verification_record_id, item_index, verification_time)
         SELECT $1, $2, 0, verification_time FROM verification_records WHERE id = $2",
    )
    .bind(batch)
    .bind(record)
    .execute(db)
    .await
    .expect("item");
    batch
}

async fn count(db: &PgPool, sql: &'static str, id: Uuid) -> i64 {
    sqlx::query_scalar(sql)
        .bind(id)
        .fetch_one(db)
        .await
        .expect("count")
}

#[tokio::test]
async fn serve_creates_the_partitions_ahead_and_one_host_at_a_time() {
    let app = TestApp::spawn_with(|c| c.history.partitions_ahead = 12).await;
    let db = app.superuser().await;
    // The task of `sigil serve` runs once at start.
    let wanted: Vec<String> = TABLES
        .iter()
        .flat_map(|t| (-1..=12).map(move |d| partition(t, day(d))))
        .collect();
    let mut missing = wanted.clone();
    for _ in 0..100 {
        let mut present = BTreeSet::new();
        for table in TABLES {
            present.extend(partitions(&db, table).await);
        }
        missing.retain(|p| !present.contains(p));
        if missing.is_empty() {
            for table in TABLES {
                assert!(present.contains(&format!("{table}_default")), "{table}");
            }
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(missing.is_empty(), "partitions not created: {missing:?}");
    // The application role does the DDL only through the functions: it
    // owns nothing and cannot touch a partition directly.
    let app_db = app.app_role().await;
    let direct = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT count(*) FROM {}",
        partition("verification_records", today())
    )))
    .execute(&app_db)
    .await;
    assert!(
        direct.is_err(),
        "sigil_app must not read partitions directly"
    );
    // Another host holding the lock: this one skips the run.
    // (The start-up run may still hold it for a moment.)
    let mut holder = db.acquire().await.expect("connection");
    let mut held = false;
    for _ in 0..50 {
        held = sqlx::query_scalar("SELECT pg_try_advisory_lock(sigil_history_lock_key())")
            .fetch_one(&mut *holder)
            .await
            .expect("lock");
        if held {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(held, "the maintenance lock is free between runs");
    let settings = HistoryConfig {
        partitions_ahead: 20,
        ..HistoryConfig::default()
    };
    let skipped = app
        .state
        .store
        .maintain_history(&settings, today())
        .await
        .expect("maintenance");
    assert_eq!(skipped, None, "the lock holder does the work");
    sqlx::query("SELECT pg_advisory_unlock(sigil_history_lock_key())")
        .execute(&mut *holder)
        .await
        .expect("unlock");
    let run = maintain(&app, &settings).await;
    assert_eq!(run.created, 8 * 4, "days 13 to 20, four tables");
    assert!(run.dropped.is_empty(), "retention 0 keeps everything");
}

#[tokio::test]
async fn a_year_of_partitions_ahead_is_made_a_week_per_statement() {
    // In one statement a year of the four tables' partitions passes
    // PostgreSQL's shared lock table ("out of shared memory").
    let app = TestApp::spawn().await;
    let settings = HistoryConfig {
        partitions_ahead: 366,
        ..HistoryConfig::default()
    };
    let run = maintain(&app, &settings).await;
    let records = app
        .state
        .store
        .history_partitions("verification_records")
        .await
        .expect("partitions");
    assert!(
        records.contains(&partition("verification_records", day(366))),
        "{} partitions, the last {:?}",
        records.len(),
        records.last()
    );
    assert!(run.created >= 4 * 350, "{} created", run.created);
}

#[tokio::test]
async fn retention_drops_old_days_with_their_rows_and_keeps_newer_ones() {
    let app = TestApp::spawn().await;
    let db = app.superuser().await;
    let (user, _) = app.user(&["user"]).await;
    let key = key_of(&db, user).await;
    let store = &app.state.store;
    for (first, last) in [(-30, -30), (-11, -10), (-2, 0)] {
        store
            .ensure_history_partitions(day(first), day(last))
            .await
            .expect("partitions");
    }
    let old = record_at(&db, user, key, midnight(day(-30)) + TimeDelta::hours(5)).await;
    let old_batch = batch_with(&db, user, old).await;
    let edge = record_at(&db, user, key, midnight(day(-10)) + TimeDelta::minutes(1)).await;
    let new = record_at(&db, user, key, midnight(day(-2))).await;
    let new_batch = batch_with(&db, user, new).await;
    let old_event: Uuid = sqlx::query_scalar(
        "INSERT INTO audit_log (action, occurred_at) VALUES ('test.old', $1) RETURNING id",
    )
    .bind(midnight(day(-30)))
    .fetch_one(&db)
    .await
    .expect("audit");

    let settings = HistoryConfig {
        retention_days: 10,
        ..HistoryConfig::default()
    };
    let run = maintain(&app, &settings).await;
    for table in &TABLES[..3] {
        assert!(run.dropped.contains(&partition(table, day(-30))), "{run:?}");
        assert!(run.dropped.contains(&partition(table, day(-11))), "{run:?}");
        assert!(
            !run.dropped.contains(&partition(table, day(-10))),
            "{run:?}"
        );
        let left = partitions(&db, table).await;
        assert!(!left.contains(&partition(table, day(-11))));
        assert!(left.contains(&partition(table, day(-10))));
    }
    assert!(
        !run.dropped.iter().any(|p| p.starts_with("audit_log")),
        "the audit log has its own retention (0: kept)"
    );
    let records = "SELECT count(*) FROM verification_records WHERE id = $1";
    assert_eq!(
        count(&db, records, old).await,
        0,
        "older than the retention"
    );
    assert_eq!(
        count(&db, records, edge).await,
        1,
        "the retention's first day stays"
    );
    assert_eq!(count(&db, records, new).await, 1);
    let batches = "SELECT count(*) FROM batch_verifications WHERE id = $1";
    assert_eq!(count(&db, batches, old_batch).await, 0);
    assert_eq!(count(&db, batches, new_batch).await, 1);
    let items = "SELECT count(*) FROM batch_verification_items WHERE batch_id = $1";
    assert_eq!(count(&db, items, old_batch).await, 0);
    assert_eq!(count(&db, items, new_batch).await, 1);
    let events = "SELECT count(*) FROM audit_log WHERE id = $1";
    assert_eq!(count(&db, events, old_event).await, 1);

    // The audit log's own retention; a second run of the same settings
    // drops nothing more.
    let audit = HistoryConfig {
        retention_days: 10,
        audit_retention_days: 20,
        ..HistoryConfig::default()
    };
    let run = maintain(&app, &audit).await;
    assert!(run.dropped.contains(&partition("audit_log", day(-30))));
    assert!(
        run.dropped.iter().all(|p| p.starts_with("audit_log")),
        "{run:?}"
    );
    assert_eq!(count(&db, events, old_event).await, 0);
    // The audit log is still append-only for everyone else.
    sqlx::query("INSERT INTO audit_log (action) VALUES ('test.now')")
        .execute(&db)
        .await
        .expect("audit");
    let delete = sqlx::query("DELETE FROM audit_log").execute(&db).await;
    assert!(delete.is_err(), "append-only");
}

#[tokio::test]
async fn pagination_across_a_partition_boundary_is_stable() {
    let app = TestApp::spawn().await;
    let db = app.superuser().await;
    let (user, token) = app.user(&["user"]).await;
    let (other, _) = app.user(&["user"]).await;
    let key = key_of(&db, user).await;
    let other_key = key_of(&db, other).await;
    // Yesterday's partition (the task of `serve` makes it too, but maybe
    // not before these inserts).
    app.state
        .store
        .ensure_history_partitions(day(-1), today())
        .await
        .expect("partitions");
    let boundary = midnight(today());
    let mut expected = Vec::new();
    // Three records sharing each time, on both sides of midnight: the id
    // breaks the ties.
    for at in [
        boundary - TimeDelta::milliseconds(1),
        boundary,
        boundary + TimeDelta::milliseconds(1),
        boundary - TimeDelta::hours(1),
    ] {
        for _ in 0..3 {
            expected.push((at, record_at(&db, user, key, at).await));
        }
        record_at(&db, other, other_key, at).await;
    }
    let in_default: i64 = sqlx::query_scalar("SELECT count(*) FROM verification_records_default")
        .fetch_one(&db)
        .await
        .expect("default");
    assert_eq!(in_default, 0, "every row is in its day's partition");
    expected.sort_by(|a, b| b.cmp(a));
    let expected: Vec<String> = expected.iter().map(|(_, id)| id.to_string()).collect();

    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..20 {
        let path = match &cursor {
            Some(c) => format!("/v1/verifications?limit=5&cursor={c}"),
            None => "/v1/verifications?limit=5".to_owned(),
        };
        let page = app.get(&path, Some(&token)).await;
        assert!(page.status.is_success(), "{page:?}");
        for item in page.body["items"].as_array().expect("items") {
            seen.push(item["id"].as_str().expect("id").to_owned());
        }
        match page.body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(
        seen, expected,
        "every record once, newest first, across midnight"
    );

    // A range across the boundary, paged by 2.
    let from = (boundary - TimeDelta::milliseconds(1))
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let to = (boundary + TimeDelta::milliseconds(1))
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..20 {
        let mut path = format!(
            "/v1/verifications?limit=2&from={}&to={}",
            from.replace('+', "%2B"),
            to.replace('+', "%2B")
        );
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let page = app.get(&path, Some(&token)).await;
        assert!(page.status.is_success(), "{page:?}");
        for item in page.body["items"].as_array().expect("items") {
            seen.push(item["id"].as_str().expect("id").to_owned());
        }
        match page.body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen, expected[3..9], "[boundary - 1 ms, boundary + 1 ms)");
}

/// The history query's shape (store::verifications::list_records), as
/// the application role in a generic plan: a time range prunes the plan to
/// its day's partition.
#[tokio::test]
async fn a_time_range_touches_only_its_partitions() {
    let app = TestApp::spawn().await;
    let (user, _) = app.user(&["user"]).await;
    let store = &app.state.store;
    store
        .ensure_history_partitions(day(-5), day(5))
        .await
        .expect("partitions");
    let app_db = app.app_role().await;
    let mut tx = app_db.begin().await.expect("begin");
    sqlx::raw_sql("SET LOCAL plan_cache_mode = force_generic_plan")
        .execute(&mut *tx)
        .await
        .expect("generic plans");
    sqlx::query("SELECT set_config('sigil.user_id', $1, true)")
        .bind(user.to_string())
        .execute(&mut *tx)
        .await
        .expect("act");
    sqlx::raw_sql(
        "PREPARE history(uuid, bool, timestamptz, timestamptz, timestamptz, uuid, bigint, uuid) AS
         SELECT r.id FROM verification_records r JOIN algorithms a ON a.id = r.algorithm_id LEFT JOIN curves c ON c.id = r.curve_id
           WHERE ($1::uuid IS NULL OR r.public_key_id = $1)
             AND ($2::bool IS NULL OR r.is_valid = $2)
             AND r.verification_time >= COALESCE($3::timestamptz, '-infinity')
             AND r.verification_time < COALESCE($4::timestamptz, 'infinity')
             AND r.verification_time <= COALESCE($5::timestamptz, 'infinity')
             AND ($5::timestamptz IS NULL OR (r.verification_time, r.id) < ($5, $6::uuid))
             AND ($8::uuid IS NULL OR r.user_id = $8)
           ORDER BY r.verification_time DESC, r.id DESC
           LIMIT $7",
    )
    .execute(&mut *tx)
    .await
    .expect("prepare");
    let target = day(-2);
    let plan: Vec<String> = explain(
        &mut tx,
        format!(
            "EXPLAIN EXECUTE history(NULL, NULL, '{}', '{}', NULL, NULL, 50, NULL)",
            midnight(target).to_rfc3339(),
            (midnight(target) + TimeDelta::hours(12)).to_rfc3339()
        ),
    )
    .await;
    let plan = plan.join("\n");
    assert!(
        plan.contains(&partition("verification_records", target)),
        "{plan}"
    );
    let touched: Vec<&str> = plan
        .split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .filter(|w| w.starts_with("verification_records_"))
        .filter(|w| !w.ends_with("_idx"))
        .collect();
    assert!(
        touched
            .iter()
            .all(|w| *w == partition("verification_records", target)),
        "only the day in range: {touched:?}\n{plan}"
    );
    // A cursor (a page deep in the history) skips the newer days.
    let plan: Vec<String> = explain(
        &mut tx,
        format!(
            "EXPLAIN EXECUTE history(NULL, NULL, NULL, NULL, '{}', '{}', 50, NULL)",
            midnight(day(-3)).to_rfc3339(),
            Uuid::nil()
        ),
    )
    .await;
    let plan = plan.join("\n");
    for newer in -2..=5 {
        assert!(
            !plan.contains(&partition("verification_records", day(newer))),
            "{plan}"
        );
    }
}

/// EXPLAIN lines of a statement run over the simple protocol.
async fn explain(tx: &mut sqlx::Transaction<'static, sqlx::Postgres>, sql: String) -> Vec<String> {
    use sqlx::Row as _;
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
        .fetch_all(&mut **tx)
        .await
        .expect("explain")
        .iter()
        .map(|row| row.get::<String, _>(0))
        .collect()
}

/// Split one CSV line (RFC 4180 quoting).
fn csv_cells(line: &str) -> Vec<String> {
    let mut cells = vec![String::new()];
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                chars.next();
                cells.last_mut().expect("cell").push('"');
            }
            ('"', _) => quoted = !quoted,
            (',', false) => cells.push(String::new()),
            (c, _) => cells.last_mut().expect("cell").push(c),
        }
    }
    cells
}

#[tokio::test]
async fn export_streams_the_period_as_jsonl_and_csv() {
    let app = TestApp::spawn().await;
    let db = app.superuser().await;
    let (alice, _) = app.user(&["user"]).await;
    let (bob, _) = app.user(&["user"]).await;
    let alice_key = key_of(&db, alice).await;
    let bob_key = key_of(&db, bob).await;
    app.state
        .store
        .ensure_history_partitions(day(-5), today())
        .await
        .expect("partitions");
    let from = midnight(day(-3));
    let to = midnight(day(-1));
    let before = record_at(&db, alice, alice_key, from - TimeDelta::milliseconds(1)).await;
    let first = record_at(&db, alice, alice_key, from).await;
    let second = record_at(&db, bob, bob_key, from + TimeDelta::hours(30)).await;
    let batch = batch_with(&db, bob, second).await;
    let after = record_at(&db, bob, bob_key, to).await;

    let owner_url = format!(
        "postgres://sigil_owner:sigil_owner@{}/{}",
        std::env::var("SIGIL_TEST_PG_HOST").unwrap_or_else(|_| "127.0.0.1:5432".into()),
        app.database
    );
    let owner = PgPool::connect(&owner_url).await.expect("owner");

    let mut jsonl = Vec::new();
    let exported = history::export(&owner, from, to, ExportFormat::Jsonl, &mut jsonl)
        .await
        .expect("export");
    assert_eq!((exported.records, exported.batches), (2, 1));
    let lines: Vec<Value> = String::from_utf8(jsonl)
        .expect("utf-8")
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    assert_eq!(lines.len(), 3);
    let stored: Value =
        sqlx::query_scalar("SELECT to_jsonb(r) FROM verification_records r WHERE id = $1")
            .bind(first)
            .fetch_one(&db)
            .await
            .expect("stored");
    assert_eq!(lines[0]["kind"], "record");
    assert_eq!(lines[0]["id"], first.to_string());
    assert_eq!(lines[0]["user_id"], alice.to_string(), "every user's rows");
    assert_eq!(lines[0]["document_hash"], stored["document_hash"]);
    assert_eq!(lines[0]["metadata"], stored["metadata"]);
    assert_eq!(
        lines[0]["verification_time"]
            .as_str()
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok()),
        Some(from.into())
    );
    assert_eq!(lines[0]["batch_id"], Value::Null);
    assert_eq!(lines[1]["id"], second.to_string());
    assert_eq!(lines[1]["batch_id"], batch.to_string(), "its batch item");
    assert_eq!(lines[1]["item_index"], 0);
    assert_eq!(lines[2]["kind"], "batch");
    assert_eq!(lines[2]["id"], batch.to_string());
    assert_eq!(lines[2]["total_count"], 1);
    let ids: BTreeSet<String> = lines
        .iter()
        .map(|l| l["id"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert!(!ids.contains(&before.to_string()) && !ids.contains(&after.to_string()));

    let mut csv = Vec::new();
    history::export(&owner, from, to, ExportFormat::Csv, &mut csv)
        .await
        .expect("export");
    let text = String::from_utf8(csv).expect("utf-8");
    let rows: Vec<Vec<String>> = text
        .split("\r\n")
        .filter(|l| !l.is_empty())
        .map(csv_cells)
        .collect();
    assert_eq!(rows.len(), 4, "header and three rows:\n{text}");
    assert_eq!(rows[0], history::CSV_COLUMNS.map(String::from).to_vec());
    let column = |name: &str| {
        history::CSV_COLUMNS
            .iter()
            .position(|c| *c == name)
            .expect("column")
    };
    assert_eq!(rows[1][column("id")], first.to_string());
    assert_eq!(
        rows[1][column("document_hash")],
        "ab,\"cd\"",
        "quoted cells parse back"
    );
    let metadata: Value = serde_json::from_str(&rows[1][column("metadata")]).expect("json cell");
    assert_eq!(metadata, stored["metadata"]);
    assert_eq!(rows[2][column("batch_id")], batch.to_string());
    assert_eq!(rows[3][column("kind")], "batch");
    assert_eq!(rows[3][column("success_count")], "1");

    // The owner sees every user's rows only while exporting.
    let outside: i64 = sqlx::query_scalar("SELECT count(*) FROM verification_records")
        .fetch_one(&owner)
        .await
        .expect("count");
    assert_eq!(outside, 0, "row-level security still applies to the owner");
}

/// One verified document: the answer's verification id.
async fn verified(app: &TestApp, token: &str) -> String {
    use crate::helpers::signers::{Kind, TestKey, b64};
    let signer = TestKey::generate(Kind::Ed25519);
    let key = app.register_key(token, &signer).await;
    let answer = app
        .verify(
            token,
            serde_json::json!({"public_key_id": key, "document": b64(b"replica"), "signature": b64(&signer.sign(b"replica"))}),
        )
        .await;
    assert_eq!(answer.body["valid"], true, "{:?}", answer.body);
    answer.body["verification_id"]
        .as_str()
        .expect("verification id")
        .to_owned()
}

#[tokio::test]
async fn listings_read_the_replica_and_a_record_by_id_the_primary() {
    // The "replica" is another migrated database that never receives the
    // primary's rows: a replica infinitely behind yet reporting no lag
    // (it is not in recovery). What reads where is then visible.
    let replica = crate::helpers::app::fresh_database().await;
    let url = crate::helpers::app::role_url("sigil_app", &replica);
    let app = TestApp::spawn_with(|c| c.database.read_url = sigil::config::Secret::new(url)).await;
    let (_, token) = app.user(&["user"]).await;
    let id = verified(&app, &token).await;

    // Read-your-writes: the id a verification answered reads the primary.
    let record = app.record(&token, &id).await;
    assert_eq!(record.body["id"], id.as_str(), "{:?}", record.body);
    // Listings read the replica, which has none of it.
    for path in ["/v1/verifications", "/v1/batches"] {
        let listed = app.get(path, Some(&token)).await;
        assert_eq!(listed.status, reqwest::StatusCode::OK, "{:?}", listed.body);
        assert_eq!(
            listed.body["items"],
            serde_json::json!([]),
            "{path} read the primary"
        );
    }
    drop(app);
    crate::helpers::app::drop_database(&replica).await;
}

#[tokio::test]
async fn listings_fall_back_to_the_primary_while_the_replica_is_down() {
    // Nothing listens on port 1.
    let url = "postgres://sigil_app:sigil_app@127.0.0.1:1/sigil".to_owned();
    let app = TestApp::spawn_with(|c| {
        c.database.read_url = sigil::config::Secret::new(url);
        c.database.acquire_timeout_ms = 500;
    })
    .await;
    let (_, token) = app.user(&["user"]).await;
    let id = verified(&app, &token).await;
    let listed = app.get("/v1/verifications", Some(&token)).await;
    assert_eq!(listed.status, reqwest::StatusCode::OK, "{:?}", listed.body);
    assert_eq!(
        listed.body["items"][0]["id"],
        id.as_str(),
        "{:?}",
        listed.body
    );
}

#[tokio::test]
async fn a_record_by_id_reads_its_day_and_random_ids_of_old_rows_are_still_found() {
    let app = TestApp::spawn().await;
    let (user, token) = app.user(&["user"]).await;
    app.state
        .store
        .ensure_history_partitions(day(-5), day(5))
        .await
        .expect("partitions");
    let db = app.superuser().await;

    // A row written before ids were time-ordered: a random id, found by
    // searching every day.
    let key = key_of(&db, user).await;
    let old = record_at(&db, user, key, midnight(day(-3)) + TimeDelta::hours(12)).await;
    assert_eq!(old.get_version_num(), 4);
    let batch = batch_with(&db, user, old).await;
    assert_eq!(
        app.record(&token, &old.to_string()).await.status,
        reqwest::StatusCode::OK
    );
    let items = app.get(&format!("/v1/batches/{batch}"), Some(&token)).await;
    assert_eq!(items.status, reqwest::StatusCode::OK, "{:?}", items.body);
    assert_eq!(items.body["items"][0]["verification_id"], old.to_string());

    // A new record's id carries its time; the lookup reads that day only.
    let fresh: Uuid = verified(&app, &token).await.parse().expect("uuid");
    assert_eq!(fresh.get_version_num(), 7);
    let found = app.record(&token, &fresh.to_string()).await;
    assert_eq!(found.status, reqwest::StatusCode::OK);
    assert_eq!(found.body["id"], fresh.to_string());
    let (from, to) = sigil::store::verifications::day_window(fresh);
    let (from, to) = (from.expect("from"), to.expect("to"));
    let mut tx = db.begin().await.expect("begin");
    let plan = explain(
        &mut tx,
        format!(
            "EXPLAIN SELECT id FROM verification_records WHERE id = '{fresh}'
               AND verification_time >= '{}' AND verification_time <= '{}'",
            from.to_rfc3339(),
            to.to_rfc3339()
        ),
    )
    .await
    .join("\n");
    let touched: BTreeSet<&str> = plan
        .split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .filter(|w| w.starts_with("verification_records_p"))
        .filter(|w| !w.ends_with("_idx") && !w.ends_with("_pkey"))
        .collect();
    let days: BTreeSet<String> = [from.date_naive(), to.date_naive()]
        .into_iter()
        .map(|d| partition("verification_records", d))
        .collect();
    assert!(
        !touched.is_empty() && touched.iter().all(|w| days.contains(*w)),
        "only the id's day: {touched:?}\n{plan}"
    );
}

#[tokio::test]
async fn pages_are_found_across_the_widening_windows() {
    // The history reads a day back first, then a week, a month, all: a
    // page whose rows lie in several windows, or none, is still whole
    // and in order.
    let app = TestApp::spawn().await;
    let db = app.superuser().await;
    let (user, token) = app.user(&["user"]).await;
    let key = key_of(&db, user).await;
    let now = Utc::now();
    let mut expected = Vec::new();
    for back in [
        TimeDelta::hours(2),
        TimeDelta::days(3),
        TimeDelta::days(20),
        TimeDelta::days(100),
        TimeDelta::days(400),
    ] {
        expected.push(record_at(&db, user, key, now - back).await.to_string());
    }
    let ids = |answer: &crate::helpers::app::Answer| -> Vec<String> {
        answer.body["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|item| item["id"].as_str().expect("id").to_owned())
            .collect()
    };
    let all = app.get("/v1/verifications?limit=10", Some(&token)).await;
    assert_eq!(ids(&all), expected, "{:?}", all.body);
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..10 {
        let path = match &cursor {
            Some(c) => format!("/v1/verifications?limit=2&cursor={c}"),
            None => "/v1/verifications?limit=2".to_owned(),
        };
        let page = app.get(&path, Some(&token)).await;
        assert!(page.status.is_success(), "{page:?}");
        seen.extend(ids(&page));
        match page.body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen, expected);
    // With `to` a week back, the windows end there.
    let to = (now - TimeDelta::days(7)).to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let older = app
        .get(
            &format!("/v1/verifications?limit=2&to={}", to.replace('+', "%2B")),
            Some(&token),
        )
        .await;
    assert_eq!(ids(&older), expected[2..4]);

    // Batches too: one 3 days back, one 100, one 400, a page of one each.
    let mut batches = Vec::new();
    for n in [1, 3, 4] {
        let record: Uuid = expected[n].parse().expect("uuid");
        batches.push(batch_with(&db, user, record).await.to_string());
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..10 {
        let path = match &cursor {
            Some(c) => format!("/v1/batches?limit=1&cursor={c}"),
            None => "/v1/batches?limit=1".to_owned(),
        };
        let page = app.get(&path, Some(&token)).await;
        assert!(page.status.is_success(), "{page:?}");
        seen.extend(ids(&page));
        match page.body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen, batches);
}
