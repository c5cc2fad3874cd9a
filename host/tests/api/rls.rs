//! Row-level security fails closed: the application role sees nothing
//! without a user, a user sees only their own rows whatever SQL they write,
//! and admins see everything.

use crate::helpers::app::TestApp;
use sigil::store::Store;
use sigil::store::verifications::{NewBatch, NewRecord};
use sqlx::{PgPool, Row};
use uuid::Uuid;

const TABLES: [&str; 5] = [
    "public_keys",
    "verification_records",
    "batch_verifications",
    "batch_verification_items",
    // The view the service reads keys through (security_invoker).
    "public_keys_now",
];

/// A P-256 key of `user` (as superuser).
async fn p256_key(db: &PgPool, user: Uuid) -> Uuid {
    sqlx::query_scalar(
        "INSERT INTO public_keys (user_id, algorithm_id, curve_id, key_data, format)
         SELECT $1, a.id, c.id, 'key', 'PEM' FROM algorithms a JOIN curves c ON c.algorithm_id = a.id
         WHERE c.name = 'P-256' RETURNING id",
    )
    .bind(user)
    .fetch_one(db)
    .await
    .expect("key")
}

/// One key, one record, one batch with one item for `user` (as superuser).
async fn seed_rows(db: &PgPool, user: Uuid) {
    let key = p256_key(db, user).await;
    let record: Uuid = sqlx::query_scalar(
        "INSERT INTO verification_records (user_id, document_hash, public_key_id, algorithm_id, curve_id, is_valid)
         SELECT $1, 'abcd', $2, algorithm_id, curve_id, true FROM public_keys WHERE id = $2 RETURNING id",
    )
    .bind(user)
    .bind(key)
    .fetch_one(db)
    .await
    .expect("record");
    // A batch, its item and its record share one time (partitioned
    // history: the item's foreign keys include it).
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
}

async fn count(tx: &mut sqlx::PgConnection, table: &str) -> i64 {
    sqlx::query(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
        .fetch_one(tx)
        .await
        .expect("count")
        .get(0)
}

/// The SQLSTATE a statement failed with (42501: a policy refused the row).
fn sqlstate<T>(result: Result<T, sqlx::Error>) -> Option<String> {
    result
        .err()?
        .as_database_error()?
        .code()
        .map(|c| c.into_owned())
}

/// The SQLSTATE and constraint of a statement that must have been refused.
fn refusal<T: std::fmt::Debug>(
    result: Result<T, sqlx::Error>,
    what: &str,
) -> (Option<String>, Option<String>) {
    let error = result.expect_err(what);
    let error = error.as_database_error().expect("a database error");
    (
        error.code().map(|c| c.into_owned()),
        error.constraint().map(str::to_owned),
    )
}

async fn act_as(pool: &PgPool, user: Uuid) -> sqlx::Transaction<'static, sqlx::Postgres> {
    let mut tx = pool.begin().await.expect("begin");
    sqlx::query("SELECT set_config('sigil.user_id', $1, true)")
        .bind(user.to_string())
        .execute(&mut *tx)
        .await
        .expect("set");
    tx
}

/// A server whose database holds one key, record and batch (with its item)
/// for each of Alice and Bob, and an admin; `pool` connects as the
/// application role, `superuser` bypasses RLS.
struct Seeded {
    app: TestApp,
    pool: PgPool,
    superuser: PgPool,
    alice: Uuid,
    bob: Uuid,
    admin: Uuid,
}

impl Seeded {
    async fn new() -> Self {
        let app = TestApp::spawn().await;
        let (alice, _) = app.user(&["user"]).await;
        let (bob, _) = app.user(&["user"]).await;
        let (admin, _) = app.admin().await;
        let superuser = app.superuser().await;
        seed_rows(&superuser, alice).await;
        seed_rows(&superuser, bob).await;
        let pool = app.app_role().await;
        Self {
            app,
            pool,
            superuser,
            alice,
            bob,
            admin,
        }
    }

    /// The id of the first row of `table` (`public_keys` or
    /// `verification_records`) owned by `user`, read as superuser.
    async fn id_of(&self, table: &str, user: Uuid) -> Uuid {
        sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT id FROM {table} WHERE user_id = $1"
        )))
        .bind(user)
        .fetch_one(&self.superuser)
        .await
        .expect("row")
    }
}

#[tokio::test]
async fn without_a_user_the_app_role_sees_nothing() {
    let seeded = Seeded::new().await;
    let mut conn = seeded.pool.acquire().await.expect("connection");
    for table in TABLES {
        assert_eq!(count(&mut conn, table).await, 0, "{table} without a user");
    }
}

#[tokio::test]
async fn a_user_sees_only_their_own_rows_even_asking_for_anothers() {
    let Seeded {
        pool, alice, bob, ..
    } = &Seeded::new().await;
    let mut tx = act_as(pool, *alice).await;
    for table in TABLES {
        assert_eq!(count(&mut tx, table).await, 1, "{table} as alice");
    }
    let bobs: i64 = sqlx::query_scalar("SELECT count(*) FROM public_keys WHERE user_id = $1")
        .bind(bob)
        .fetch_one(&mut *tx)
        .await
        .expect("select");
    assert_eq!(bobs, 0);
    let bobs_records: i64 =
        sqlx::query_scalar("SELECT count(*) FROM verification_records r JOIN public_keys k ON k.id = r.public_key_id WHERE r.user_id = $1")
            .bind(bob)
            .fetch_one(&mut *tx)
            .await
            .expect("select");
    assert_eq!(bobs_records, 0);
}

#[tokio::test]
async fn a_user_cannot_change_delete_or_write_anothers_rows() {
    let Seeded {
        pool, alice, bob, ..
    } = &Seeded::new().await;
    let mut tx = act_as(pool, *alice).await;
    let touched = sqlx::query("UPDATE public_keys SET name = 'mine now' WHERE user_id = $1")
        .bind(bob)
        .execute(&mut *tx)
        .await
        .expect("update runs")
        .rows_affected();
    assert_eq!(touched, 0);
    let deleted = sqlx::query("DELETE FROM public_keys WHERE user_id = $1")
        .bind(bob)
        .execute(&mut *tx)
        .await
        .expect("delete runs");
    assert_eq!(deleted.rows_affected(), 0);
    let forged = sqlx::query(
        "INSERT INTO public_keys (user_id, algorithm_id, key_data) SELECT $1, id, 'k' FROM algorithms WHERE name = 'RSA'",
    )
    .bind(bob)
    .execute(&mut *tx)
    .await;
    assert!(forged.is_err(), "a row for another user must be refused");
}

/// Alice cannot point her own rows at Bob's: a record on his key, or an
/// item joining her batch to his record, is refused although she is the
/// writer of both.
#[tokio::test]
async fn a_user_cannot_point_her_rows_at_anothers() {
    let seeded = Seeded::new().await;
    let (pool, alice) = (&seeded.pool, seeded.alice);
    let bobs_key = seeded.id_of("public_keys", seeded.bob).await;
    let bobs_record = seeded.id_of("verification_records", seeded.bob).await;
    let mut tx = act_as(pool, alice).await;
    let on_his_key = sqlx::query(
        "INSERT INTO verification_records (user_id, document_hash, public_key_id, algorithm_id, curve_id, is_valid)
         SELECT $1, 'abcd', $2, algorithm_id, id, true FROM curves WHERE name = 'P-256'",
    )
    .bind(alice)
    .bind(bobs_key)
    .execute(&mut *tx)
    .await;
    assert_eq!(
        sqlstate(on_his_key).as_deref(),
        Some("42501"),
        "a record on another user's key must be refused by policy"
    );
    tx.rollback().await.expect("rollback");
    let his_time: chrono::DateTime<chrono::Utc> =
        sqlx::query_scalar("SELECT verification_time FROM verification_records WHERE id = $1")
            .bind(bobs_record)
            .fetch_one(&seeded.superuser)
            .await
            .expect("his record's time");
    let mut tx = act_as(pool, alice).await;
    let her_batch: Uuid = sqlx::query_scalar(
        "INSERT INTO batch_verifications (user_id, total_count, success_count, verification_time)
         VALUES ($1, 1, 1, $2) RETURNING id",
    )
    .bind(alice)
    .bind(his_time)
    .fetch_one(&mut *tx)
    .await
    .expect("her own batch");
    let linked = sqlx::query(
        "INSERT INTO batch_verification_items (batch_id, verification_record_id, item_index, verification_time)
         VALUES ($1, $2, 0, $3)",
    )
    .bind(her_batch)
    .bind(bobs_record)
    .bind(his_time)
    .execute(&mut *tx)
    .await;
    assert_eq!(
        sqlstate(linked).as_deref(),
        Some("42501"),
        "an item linking another user's record must be refused by policy"
    );
}

#[tokio::test]
async fn records_and_batches_are_insert_and_read_only() {
    let Seeded { pool, alice, .. } = &Seeded::new().await;
    let mut tx = act_as(pool, *alice).await;
    let rewrite = sqlx::query("UPDATE verification_records SET is_valid = false")
        .execute(&mut *tx)
        .await;
    assert!(
        rewrite.is_err(),
        "the application role cannot update records"
    );
    tx.rollback().await.expect("rollback");
    let mut tx = act_as(pool, *alice).await;
    assert!(
        sqlx::query("DELETE FROM batch_verifications")
            .execute(&mut *tx)
            .await
            .is_err()
    );
}

#[tokio::test]
async fn an_admin_sees_everyones_rows_until_suspended() {
    let Seeded {
        pool,
        superuser,
        admin,
        ..
    } = &Seeded::new().await;
    let mut tx = act_as(pool, *admin).await;
    for table in TABLES {
        assert_eq!(count(&mut tx, table).await, 2, "{table} as admin");
    }
    tx.rollback().await.expect("rollback");

    // A suspended admin is no admin.
    sqlx::query("UPDATE users SET status = 'suspended' WHERE id = $1")
        .bind(admin)
        .execute(superuser)
        .await
        .expect("suspend");
    let mut tx = act_as(pool, *admin).await;
    assert_eq!(count(&mut tx, "public_keys").await, 0);
}

/// A record of `user` on `key` as the recorder builds it.
async fn new_record(db: &PgPool, user: Uuid, key: Uuid) -> NewRecord {
    let (algorithm_id, curve_id): (Uuid, Option<Uuid>) =
        sqlx::query_as("SELECT algorithm_id, curve_id FROM public_keys WHERE id = $1")
            .bind(key)
            .fetch_one(db)
            .await
            .expect("key");
    NewRecord {
        id: Uuid::new_v4(),
        user_id: user,
        document_hash: "ab".repeat(32),
        public_key_id: key,
        algorithm_id,
        curve_id,
        is_valid: true,
        verified_at: chrono::Utc::now(),
        metadata: serde_json::json!({"plugin": "test"}),
    }
}

#[tokio::test]
async fn a_recorded_group_is_one_statement_checked_row_by_row() {
    let app = TestApp::spawn().await;
    let (alice, _) = app.user(&["user"]).await;
    let (bob, _) = app.user(&["user"]).await;
    let superuser = app.superuser().await;
    seed_rows(&superuser, alice).await;
    seed_rows(&superuser, bob).await;
    let key_of = |user: Uuid| {
        let db = superuser.clone();
        async move {
            sqlx::query_scalar::<_, Uuid>("SELECT id FROM public_keys WHERE user_id = $1")
                .bind(user)
                .fetch_one(&db)
                .await
                .expect("key")
        }
    };
    let (alices_key, bobs_key) = (key_of(alice).await, key_of(bob).await);
    // One connection, so what it is left acting as after a group shows.
    let app_pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect_with((*app.app_role().await.connect_options()).clone())
        .await
        .expect("app pool");
    let store = Store::from_pool(app_pool.clone());
    let counts = || {
        let db = superuser.clone();
        async move {
            let mut conn = db.acquire().await.expect("connection");
            let mut all = Vec::new();
            for table in [
                "verification_records",
                "batch_verifications",
                "batch_verification_items",
            ] {
                all.push(count(&mut conn, table).await);
            }
            all
        }
    };
    let before = counts().await;

    // Two users' records and a batch with its item, in one call.
    let hers = new_record(&superuser, alice, alices_key).await;
    let his = new_record(&superuser, bob, bobs_key).await;
    let batch = NewBatch {
        id: Uuid::new_v4(),
        user_id: alice,
        total_count: 1,
        success_count: 1,
        // A batch and its items' records share one time, as the host
        // writes them (partitioned history: the items' keys include it).
        verified_at: hers.verified_at,
        metadata: serde_json::json!({}),
        items: vec![(0, hers.id)],
    };
    let written = store
        .record_group(&[&hers, &his], &[&batch])
        .await
        .expect("group");
    assert_eq!(written, 2);
    let after = counts().await;
    assert_eq!(after, vec![before[0] + 2, before[1] + 1, before[2] + 1]);
    let owner: Uuid = sqlx::query_scalar("SELECT user_id FROM verification_records WHERE id = $1")
        .bind(his.id)
        .fetch_one(&superuser)
        .await
        .expect("his record");
    assert_eq!(owner, bob, "each record is written for its own user");

    // The same group again (a retry after a lost commit answer) adds nothing.
    let again = store
        .record_group(&[&hers, &his], &[&batch])
        .await
        .expect("retry");
    assert_eq!(again, 0);
    assert_eq!(counts().await, after);

    // A row the policies refuse (Alice's record on Bob's key) fails the
    // whole group: her valid record beside it is not written either.
    let fine = new_record(&superuser, alice, alices_key).await;
    let mut forged = new_record(&superuser, alice, alices_key).await;
    forged.public_key_id = bobs_key;
    let refused = store.record_group(&[&fine, &forged], &[]).await;
    assert!(
        refused.is_err(),
        "a record on another user's key must be refused"
    );
    assert_eq!(counts().await, after, "nothing of a refused group is kept");

    // The connection does not stay acting for anyone.
    let mut conn = app_pool.acquire().await.expect("connection");
    assert_eq!(count(&mut conn, "verification_records").await, 0);
}

/// Batch items keep what their foreign keys guaranteed, checked once per
/// statement since migration 20261202000100: even where row-level
/// security does not apply (the superuser here), an item naming a batch or
/// record that does not exist at its time is refused with the foreign
/// key's SQLSTATE, the whole statement with it; deleting a batch takes its
/// items; a record an item names cannot be deleted; the links and keys are
/// never rewritten.
#[tokio::test]
async fn batch_items_keep_their_references_without_foreign_keys() {
    let seeded = Seeded::new().await;
    let db = &seeded.superuser;
    let (batch, record, at): (Uuid, Uuid, chrono::DateTime<chrono::Utc>) = sqlx::query_as(
        "SELECT i.batch_id, i.verification_record_id, i.verification_time
         FROM batch_verification_items i JOIN batch_verifications b ON b.id = i.batch_id
         WHERE b.user_id = $1",
    )
    .bind(seeded.alice)
    .fetch_one(db)
    .await
    .expect("Alice's item");
    let items = || async {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM batch_verification_items")
            .fetch_one(db)
            .await
            .expect("count")
    };
    let before = items().await;
    let insert = |batch: Uuid, record: Uuid, index: i32, at: chrono::DateTime<chrono::Utc>| {
        sqlx::query(
            "INSERT INTO batch_verification_items (batch_id, verification_record_id, item_index, verification_time)
             VALUES ($1, $2, $3, $4)",
        )
        .bind(batch)
        .bind(record)
        .bind(index)
        .bind(at)
        .execute(db)
    };
    let missing = Uuid::new_v4();
    let day_later = at + chrono::TimeDelta::days(1);
    for (what, result) in [
        ("a missing batch", insert(missing, record, 1, at).await),
        ("a missing record", insert(batch, missing, 1, at).await),
        ("another time", insert(batch, record, 1, day_later).await),
    ] {
        assert_eq!(
            sqlstate(result).as_deref(),
            Some("23503"),
            "an item naming {what} must be refused"
        );
    }
    // One bad row refuses the whole statement.
    let mixed = sqlx::query(
        "INSERT INTO batch_verification_items (batch_id, verification_record_id, item_index, verification_time)
         VALUES ($1, $2, 1, $3), ($1, $4, 2, $3)",
    )
    .bind(batch)
    .bind(record)
    .bind(at)
    .bind(missing)
    .execute(db)
    .await;
    assert_eq!(sqlstate(mixed).as_deref(), Some("23503"));
    assert_eq!(
        items().await,
        before,
        "nothing of a refused statement is kept"
    );
    // A good item is still accepted.
    insert(batch, record, 1, at)
        .await
        .expect("an item naming its batch and record");

    // Links and keys are not rewritten.
    for statement in [
        "UPDATE batch_verification_items SET verification_record_id = gen_random_uuid() WHERE batch_id = $1",
        "UPDATE batch_verifications SET id = gen_random_uuid() WHERE id = $1",
    ] {
        let rewritten = sqlx::query(sqlx::AssertSqlSafe(statement))
            .bind(batch)
            .execute(db)
            .await;
        assert_eq!(sqlstate(rewritten).as_deref(), Some("23503"), "{statement}");
    }
    let rewritten =
        sqlx::query("UPDATE verification_records SET verification_time = $2 WHERE id = $1")
            .bind(record)
            .bind(day_later)
            .execute(db)
            .await;
    assert_eq!(sqlstate(rewritten).as_deref(), Some("23503"));

    // A record its items name stays; its batch takes the items along,
    // after which the record may go.
    let delete_record = || {
        sqlx::query("DELETE FROM verification_records WHERE id = $1")
            .bind(record)
            .execute(db)
    };
    assert_eq!(sqlstate(delete_record().await).as_deref(), Some("23503"));
    sqlx::query("DELETE FROM batch_verifications WHERE id = $1")
        .bind(batch)
        .execute(db)
        .await
        .expect("delete the batch");
    let left: i64 =
        sqlx::query_scalar("SELECT count(*) FROM batch_verification_items WHERE batch_id = $1")
            .bind(batch)
            .fetch_one(db)
            .await
            .expect("count");
    assert_eq!(left, 0, "a deleted batch's items go with it");
    assert_eq!(items().await, before - 1, "Bob's item stays");
    let deleted = delete_record().await.expect("delete the record");
    assert_eq!(deleted.rows_affected(), 1);
}

/// A verification record keeps what its five foreign keys guaranteed,
/// checked once per statement since migration 20261203000100: even where
/// row-level security does not apply (the superuser here), a record naming
/// a user, key, algorithm or curve that does not exist, or a curve of
/// another algorithm, is refused with SQLSTATE 23503 under the foreign
/// key's name, the whole statement with it; a user, key, algorithm or
/// curve that records name cannot be deleted or have its key rewritten;
/// rows no record names still can.
#[tokio::test]
async fn records_keep_their_references_without_foreign_keys() {
    let seeded = Seeded::new().await;
    let db = &seeded.superuser;
    let key = seeded.id_of("public_keys", seeded.alice).await;
    let records = || async {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM verification_records")
            .fetch_one(db)
            .await
            .expect("count")
    };
    let before = records().await;
    let other_algorithm: Uuid =
        sqlx::query_scalar("SELECT algorithm_id FROM curves WHERE name = 'Curve25519'")
            .fetch_one(db)
            .await
            .expect("Ed25519's algorithm");
    let missing = Uuid::new_v4();
    let write = |user: Uuid, key_id: Uuid, algorithm: Option<Uuid>, curve: Option<Option<Uuid>>| async move {
        sqlx::query(
            "INSERT INTO verification_records (user_id, document_hash, public_key_id, algorithm_id, curve_id, is_valid)
             SELECT $1, 'abcd', $2, coalesce($3, k.algorithm_id), CASE WHEN $5 THEN $4 ELSE k.curve_id END, true
             FROM public_keys k WHERE k.id = $6",
        )
        .bind(user)
        .bind(key_id)
        .bind(algorithm)
        .bind(curve.flatten())
        .bind(curve.is_some())
        .bind(key)
        .execute(db)
        .await
    };
    let alice = seeded.alice;
    for (what, constraint, result) in [
        (
            "a missing user",
            "verification_records_user_id_fkey",
            write(missing, key, None, None).await,
        ),
        (
            "a missing key",
            "verification_records_public_key_id_fkey",
            write(alice, missing, None, None).await,
        ),
        (
            "a missing algorithm",
            "verification_records_algorithm_id_fkey",
            write(alice, key, Some(missing), None).await,
        ),
        (
            "a missing curve",
            "verification_records_curve_algorithm_fkey",
            write(alice, key, None, Some(Some(missing))).await,
        ),
        (
            "a curve of another algorithm",
            "verification_records_curve_algorithm_fkey",
            write(alice, key, Some(other_algorithm), None).await,
        ),
    ] {
        assert_eq!(
            refusal(result, what),
            (Some("23503".into()), Some(constraint.into())),
            "{what}"
        );
    }
    // One bad row refuses the whole statement.
    let mixed = sqlx::query(
        "INSERT INTO verification_records (user_id, document_hash, public_key_id, algorithm_id, curve_id, is_valid)
         SELECT u, 'abcd', k.id, k.algorithm_id, k.curve_id, true
         FROM public_keys k, unnest(ARRAY[$2, $3]::uuid[]) AS u WHERE k.id = $1",
    )
    .bind(key)
    .bind(alice)
    .bind(missing)
    .execute(db)
    .await;
    assert_eq!(sqlstate(mixed).as_deref(), Some("23503"));
    assert_eq!(
        records().await,
        before,
        "nothing of a refused statement is kept"
    );
    // A good record is still accepted, with or without a curve where the
    // algorithm has none.
    write(alice, key, None, None)
        .await
        .expect("a record naming what exists");

    // What records name is neither deleted nor re-keyed, under the foreign
    // key's name (the API reports `user_has_history` by it).
    let curve: Uuid = sqlx::query_scalar("SELECT curve_id FROM public_keys WHERE id = $1")
        .bind(key)
        .fetch_one(db)
        .await
        .expect("curve");
    let algorithm: Uuid = sqlx::query_scalar("SELECT algorithm_id FROM public_keys WHERE id = $1")
        .bind(key)
        .fetch_one(db)
        .await
        .expect("algorithm");
    for (statement, id, constraint) in [
        (
            "DELETE FROM users WHERE id = $1",
            alice,
            "verification_records_user_id_fkey",
        ),
        (
            "UPDATE users SET id = gen_random_uuid() WHERE id = $1",
            alice,
            "verification_records_user_id_fkey",
        ),
        (
            "DELETE FROM public_keys WHERE id = $1",
            key,
            "verification_records_public_key_id_fkey",
        ),
        (
            "UPDATE public_keys SET id = gen_random_uuid() WHERE id = $1",
            key,
            "verification_records_public_key_id_fkey",
        ),
        (
            "DELETE FROM algorithms WHERE id = $1",
            algorithm,
            "verification_records_algorithm_id_fkey",
        ),
        (
            "UPDATE algorithms SET id = gen_random_uuid() WHERE id = $1",
            algorithm,
            "verification_records_algorithm_id_fkey",
        ),
        (
            "DELETE FROM curves WHERE id = $1",
            curve,
            "verification_records_curve_algorithm_fkey",
        ),
        (
            "UPDATE curves SET algorithm_id = $2 WHERE id = $1",
            curve,
            "verification_records_curve_algorithm_fkey",
        ),
    ] {
        // Bind only the parameters the statement has: a statement prepared
        // with more parameter types than it uses would be cached under its
        // text, and a later use of that text with one bind would not match.
        let query = sqlx::query(sqlx::AssertSqlSafe(statement)).bind(id);
        let query = if statement.contains("$2") {
            query.bind(other_algorithm)
        } else {
            query
        };
        let result = query.execute(db).await;
        assert_eq!(
            refusal(result, statement),
            (Some("23503".into()), Some(constraint.into())),
            "{statement}"
        );
    }
    // Other columns of a named row change freely; a row no record names goes.
    sqlx::query("UPDATE users SET status = status, id = id WHERE id = $1")
        .bind(alice)
        .execute(db)
        .await
        .expect("an update that keeps the id");
    let unused: Uuid = sqlx::query_scalar(
        "INSERT INTO public_keys (user_id, algorithm_id, curve_id, key_data, format)
         SELECT user_id, algorithm_id, curve_id, 'unused', 'PEM' FROM public_keys WHERE id = $1
         RETURNING id",
    )
    .bind(key)
    .fetch_one(db)
    .await
    .expect("an unused key");
    let deleted = sqlx::query("DELETE FROM public_keys WHERE id = $1")
        .bind(unused)
        .execute(db)
        .await
        .expect("a key without history is deleted");
    assert_eq!(deleted.rows_affected(), 1);
}

/// A record locks what it names until its transaction ends, as a foreign
/// key's check does: a key deleted while a record naming it is being
/// written waits, and is then refused; a record naming a key whose delete
/// is being committed waits, and is then refused.
#[tokio::test]
async fn a_record_and_a_delete_of_its_key_do_not_both_commit() {
    let seeded = Seeded::new().await;
    let db = &seeded.superuser;
    let delete = |key: Uuid| sqlx::query("DELETE FROM public_keys WHERE id = $1").bind(key);
    let settle = std::time::Duration::from_millis(300);

    // The record first: the delete waits for its commit, then is refused.
    let key = p256_key(db, seeded.alice).await;
    let mut recording = db.begin().await.expect("begin");
    let written = record_on_key(&mut recording, key).await.expect("record");
    assert_eq!(written.rows_affected(), 1);
    let deleting = tokio::spawn({
        let db = db.clone();
        async move { delete(key).execute(&db).await }
    });
    tokio::time::sleep(settle).await;
    assert!(
        !deleting.is_finished(),
        "the delete must wait for the record's transaction"
    );
    recording.commit().await.expect("commit");
    let refused = deleting.await.expect("task");
    assert_eq!(sqlstate(refused).as_deref(), Some("23503"));

    // The delete first: the record waits for its commit, then is refused.
    let key = p256_key(db, seeded.alice).await;
    let mut deleting = db.begin().await.expect("begin");
    delete(key)
        .execute(&mut *deleting)
        .await
        .expect("delete a key without history");
    let recording = tokio::spawn({
        let db = db.clone();
        async move {
            let mut connection = db.acquire().await?;
            record_on_key(&mut connection, key).await
        }
    });
    tokio::time::sleep(settle).await;
    assert!(
        !recording.is_finished(),
        "the record must wait for the delete's transaction"
    );
    deleting.commit().await.expect("commit");
    let refused = recording.await.expect("task");
    assert_eq!(sqlstate(refused).as_deref(), Some("23503"));
}

/// A record on `key` with the key's columns given as values (the key may
/// be gone by the time the statement's check runs).
async fn record_on_key(
    db: &mut sqlx::PgConnection,
    key: Uuid,
) -> Result<sqlx::postgres::PgQueryResult, sqlx::Error> {
    let (user, algorithm, curve): (Uuid, Uuid, Option<Uuid>) =
        sqlx::query_as("SELECT user_id, algorithm_id, curve_id FROM public_keys WHERE id = $1")
            .bind(key)
            .fetch_one(&mut *db)
            .await?;
    sqlx::query(
        "INSERT INTO verification_records (user_id, document_hash, public_key_id, algorithm_id, curve_id, is_valid)
         VALUES ($1, 'abcd', $2, $3, $4, true)",
    )
    .bind(user)
    .bind(key)
    .bind(algorithm)
    .bind(curve)
    .execute(db)
    .await
}

/// Recording a batch checks each item with one probe by key, whatever the
/// statistics of the day's partition say: no plan node of any statement
/// the recording runs, the triggers' included, discards more rows than the
/// batch has items. Planned as an anti-join from a new partition's
/// estimates, the items' check compared every item with every record of
/// the batch (N²/2 rows). auto_explain shows every plan, nested ones too,
/// as notices, which psql prints.
#[tokio::test]
async fn a_batchs_items_are_checked_with_one_probe_each() {
    const ITEMS: usize = 300;
    let seeded = Seeded::new().await;
    let key = seeded.id_of("public_keys", seeded.alice).await;
    let alice = seeded.alice;
    let script = format!(
        "LOAD 'auto_explain';
         SET auto_explain.log_min_duration = 0;
         SET auto_explain.log_nested_statements = on;
         SET auto_explain.log_analyze = on;
         SET auto_explain.log_timing = off;
         SET auto_explain.log_level = notice;
         SET client_min_messages = notice;
         SET ROLE sigil_app;
         SELECT set_config('sigil.user_id', '{alice}', false);
         WITH ids AS (SELECT array_agg(gen_random_uuid()) AS r, gen_random_uuid() AS b, now() AS t
                      FROM generate_series(1, {ITEMS})),
              k AS (SELECT id, algorithm_id, curve_id FROM public_keys WHERE id = '{key}')
         SELECT record_verifications(
             ids.r, array_fill('{alice}'::uuid, ARRAY[{ITEMS}]), array_fill(repeat('ab', 32), ARRAY[{ITEMS}]),
             array_fill(k.id, ARRAY[{ITEMS}]), array_fill(k.algorithm_id, ARRAY[{ITEMS}]),
             array_fill(k.curve_id, ARRAY[{ITEMS}]), array_fill(true, ARRAY[{ITEMS}]),
             array_fill(ids.t, ARRAY[{ITEMS}]), array_fill('{{}}'::jsonb, ARRAY[{ITEMS}]),
             ARRAY[ids.b], ARRAY['{alice}'::uuid], ARRAY[{ITEMS}], ARRAY[{ITEMS}], ARRAY[ids.t],
             ARRAY['{{}}'::jsonb], array_fill(ids.b, ARRAY[{ITEMS}]),
             array(SELECT generate_series(0, {ITEMS} - 1)), ids.r)
         FROM ids, k;"
    );
    let output = tokio::process::Command::new("psql")
        .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"])
        .arg(crate::helpers::app::admin_url(&seeded.app.database))
        .args(["-c", &script])
        .output()
        .await
        .expect("psql runs");
    let notices = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "psql failed: {notices}");
    assert_eq!(
        String::from_utf8_lossy(&output.stdout)
            .trim()
            .lines()
            .last(),
        Some(ITEMS.to_string().as_str()),
        "the batch's records are written"
    );
    assert!(
        notices.contains("batch_items_name_existing_rows") || notices.contains("new_items"),
        "auto_explain showed the items' check: {notices}"
    );
    for line in notices.lines().filter(|l| l.contains("Rows Removed by")) {
        let removed: usize = line
            .rsplit(':')
            .next()
            .and_then(|n| n.trim().parse().ok())
            .expect("a count");
        assert!(
            removed <= ITEMS,
            "a plan discarded {removed} rows for a batch of {ITEMS} items: {line}\n{notices}"
        );
    }
}

/// The one-statement API-token lookup (`sigil_api_token_by_hash`) sees the
/// row whose hash it presents and no other, leaves nothing presented on the
/// connection once its statement ends, records a use only of a usable
/// token and at most once a minute, and changes nothing else.
#[tokio::test]
async fn the_token_lookup_presents_its_hash_for_its_own_statement_only() {
    let seeded = Seeded::new().await;
    let (usable, revoked) = ("a".repeat(64), "b".repeat(64));
    for (hash, revoked_at) in [(&usable, "NULL"), (&revoked, "now()")] {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO api_tokens (user_id, name, token_hash, scopes, expires_at, revoked_at)
             VALUES ($1, 'ci', $2, ARRAY['verify'], now() + interval '1 day', {revoked_at})"
        )))
        .bind(seeded.alice)
        .bind(hash)
        .execute(&seeded.superuser)
        .await
        .expect("token");
    }
    let mut conn = seeded.pool.acquire().await.expect("connection");
    let lookup =
        "SELECT user_id, last_used_at IS NULL AS unused FROM sigil_api_token_by_hash($1, $2)";
    let found = sqlx::query(lookup)
        .bind(&usable)
        .bind(true)
        .fetch_all(&mut *conn)
        .await
        .expect("lookup");
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].get::<Uuid, _>("user_id"), seeded.alice);
    // The row as read: its use is recorded by the same statement.
    assert!(found[0].get::<bool, _>("unused"));
    // The same connection, next statement: nothing presented any more.
    assert_eq!(count(&mut conn, "api_tokens").await, 0);
    let unknown = sqlx::query(lookup)
        .bind("c".repeat(64))
        .bind(true)
        .fetch_all(&mut *conn)
        .await
        .expect("lookup");
    assert!(unknown.is_empty(), "another hash names no row");
    let again = sqlx::query(lookup)
        .bind(&usable)
        .bind(true)
        .fetch_one(&mut *conn)
        .await
        .expect("lookup");
    assert!(
        !again.get::<bool, _>("unused"),
        "the first use was recorded"
    );
    sqlx::query(lookup)
        .bind(&revoked)
        .bind(true)
        .fetch_one(&mut *conn)
        .await
        .expect("a revoked token is found, to be refused by the service");
    let uses: Vec<(String, bool)> = sqlx::query_as(
        "SELECT token_hash, last_used_at IS NOT NULL FROM api_tokens ORDER BY token_hash",
    )
    .fetch_all(&seeded.superuser)
    .await
    .expect("uses");
    assert_eq!(uses, vec![(usable.clone(), true), (revoked.clone(), false)]);
}
