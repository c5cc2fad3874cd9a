//! Row-level security fails closed: the application role sees nothing
//! without a user, a user sees only their own rows whatever SQL they write,
//! and admins see everything.

mod support;

use sqlx::{PgPool, Row};
use support::app::TestApp;
use uuid::Uuid;

const TABLES: [&str; 4] = [
    "public_keys",
    "verification_records",
    "batch_verifications",
    "batch_verification_items",
];

/// One key, one record, one batch with one item for `user` (as superuser).
async fn seed_rows(db: &PgPool, user: Uuid) {
    let key: Uuid = sqlx::query_scalar(
        "INSERT INTO public_keys (user_id, algorithm_id, curve_id, key_data, format)
         SELECT $1, a.id, c.id, 'key', 'PEM' FROM algorithms a JOIN curves c ON c.algorithm_id = a.id
         WHERE c.name = 'P-256' RETURNING id",
    )
    .bind(user)
    .fetch_one(db)
    .await
    .expect("key");
    let record: Uuid = sqlx::query_scalar(
        "INSERT INTO verification_records (user_id, document_hash, public_key_id, algorithm_id, curve_id, is_valid)
         SELECT $1, 'abcd', $2, algorithm_id, curve_id, true FROM public_keys WHERE id = $2 RETURNING id",
    )
    .bind(user)
    .bind(key)
    .fetch_one(db)
    .await
    .expect("record");
    let batch: Uuid = sqlx::query_scalar(
        "INSERT INTO batch_verifications (user_id, total_count, success_count) VALUES ($1, 1, 1) RETURNING id",
    )
    .bind(user)
    .fetch_one(db)
    .await
    .expect("batch");
    sqlx::query("INSERT INTO batch_verification_items (batch_id, verification_record_id, item_index) VALUES ($1, $2, 0)")
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

async fn act_as(pool: &PgPool, user: Uuid) -> sqlx::Transaction<'static, sqlx::Postgres> {
    let mut tx = pool.begin().await.expect("begin");
    sqlx::query("SELECT set_config('sigil.user_id', $1, true)")
        .bind(user.to_string())
        .execute(&mut *tx)
        .await
        .expect("set");
    tx
}

#[tokio::test]
async fn row_level_security_fails_closed_and_isolates_users() {
    let app = TestApp::spawn().await;
    let (alice, _) = app.user(&["user"]).await;
    let (bob, _) = app.user(&["user"]).await;
    let (admin, _) = app.admin().await;
    let superuser = app.superuser().await;
    seed_rows(&superuser, alice).await;
    seed_rows(&superuser, bob).await;
    let pool = app.app_role().await;

    // No user set: nothing at all.
    let mut conn = pool.acquire().await.expect("connection");
    for table in TABLES {
        assert_eq!(count(&mut conn, table).await, 0, "{table} without a user");
    }
    drop(conn);

    // Alice sees her rows only, even asking for Bob's by hand.
    let mut tx = act_as(&pool, alice).await;
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
    // ...cannot change them...
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
    // ...and cannot write rows in Bob's name.
    let forged = sqlx::query(
        "INSERT INTO public_keys (user_id, algorithm_id, key_data) SELECT $1, id, 'k' FROM algorithms WHERE name = 'RSA'",
    )
    .bind(bob)
    .execute(&mut *tx)
    .await;
    assert!(forged.is_err(), "a row for another user must be refused");
    tx.rollback().await.expect("rollback");

    // Nor point her own rows at Bob's: a record on his key, or an item
    // joining her batch to his record, is refused although she is the
    // writer of both.
    let bobs_key: Uuid = sqlx::query_scalar("SELECT id FROM public_keys WHERE user_id = $1")
        .bind(bob)
        .fetch_one(&superuser)
        .await
        .expect("bob's key");
    let bobs_record: Uuid =
        sqlx::query_scalar("SELECT id FROM verification_records WHERE user_id = $1")
            .bind(bob)
            .fetch_one(&superuser)
            .await
            .expect("bob's record");
    let mut tx = act_as(&pool, alice).await;
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
    let mut tx = act_as(&pool, alice).await;
    let her_batch: Uuid = sqlx::query_scalar(
        "INSERT INTO batch_verifications (user_id, total_count, success_count) VALUES ($1, 1, 1) RETURNING id",
    )
    .bind(alice)
    .fetch_one(&mut *tx)
    .await
    .expect("her own batch");
    let linked = sqlx::query(
        "INSERT INTO batch_verification_items (batch_id, verification_record_id, item_index) VALUES ($1, $2, 0)",
    )
    .bind(her_batch)
    .bind(bobs_record)
    .execute(&mut *tx)
    .await;
    assert_eq!(
        sqlstate(linked).as_deref(),
        Some("42501"),
        "an item linking another user's record must be refused by policy"
    );
    tx.rollback().await.expect("rollback");

    // Records are insert-and-read only, whoever asks.
    let mut tx = act_as(&pool, alice).await;
    let rewrite = sqlx::query("UPDATE verification_records SET is_valid = false")
        .execute(&mut *tx)
        .await;
    assert!(
        rewrite.is_err(),
        "the application role cannot update records"
    );
    tx.rollback().await.expect("rollback");
    let mut tx = act_as(&pool, alice).await;
    assert!(
        sqlx::query("DELETE FROM batch_verifications")
            .execute(&mut *tx)
            .await
            .is_err()
    );
    tx.rollback().await.expect("rollback");

    // An admin sees everyone's rows.
    let mut tx = act_as(&pool, admin).await;
    for table in TABLES {
        assert_eq!(count(&mut tx, table).await, 2, "{table} as admin");
    }
    tx.rollback().await.expect("rollback");

    // A suspended admin is no admin.
    sqlx::query("UPDATE users SET status = 'suspended' WHERE id = $1")
        .bind(admin)
        .execute(&superuser)
        .await
        .expect("suspend");
    let mut tx = act_as(&pool, admin).await;
    assert_eq!(count(&mut tx, "public_keys").await, 0);
    tx.rollback().await.expect("rollback");
}
