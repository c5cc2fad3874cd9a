//! The migrated schema matches the seed (shared/seed/database-design.md)
//! table by table: columns with their types, nullability and defaults,
//! constraints, indexes and default rows, read back from the catalogue.

use std::collections::BTreeSet;

use crate::helpers::app::{admin_url, fresh_database};
use sqlx::PgPool;

/// (column, information_schema data type, max length, nullable, default contains)
type Column = (
    &'static str,
    &'static str,
    Option<i32>,
    bool,
    Option<&'static str>,
);

/// (name, data type, max length, is_nullable, default) as the catalogue reads.
type ColumnRow = (String, String, Option<i32>, String, Option<String>);

const UUID_PK: Column = ("id", "uuid", None, false, Some("gen_random_uuid()"));
const TS_NOW: &str = "now()";

fn seed_tables() -> Vec<(&'static str, Vec<Column>)> {
    vec![
        (
            "users",
            vec![
                UUID_PK,
                ("username", "character varying", Some(64), false, None),
                ("email", "character varying", Some(256), false, None),
                ("password_hash", "character varying", Some(256), false, None),
                (
                    "created_at",
                    "timestamp with time zone",
                    None,
                    false,
                    Some(TS_NOW),
                ),
                (
                    "updated_at",
                    "timestamp with time zone",
                    None,
                    false,
                    Some(TS_NOW),
                ),
                ("last_login", "timestamp with time zone", None, true, None),
                (
                    "status",
                    "character varying",
                    Some(16),
                    false,
                    Some("'active'"),
                ),
            ],
        ),
        (
            "roles",
            vec![
                UUID_PK,
                ("name", "character varying", Some(32), false, None),
                ("description", "text", None, true, None),
                (
                    "created_at",
                    "timestamp with time zone",
                    None,
                    false,
                    Some(TS_NOW),
                ),
            ],
        ),
        (
            "user_roles",
            vec![
                ("user_id", "uuid", None, false, None),
                ("role_id", "uuid", None, false, None),
                (
                    "created_at",
                    "timestamp with time zone",
                    None,
                    false,
                    Some(TS_NOW),
                ),
            ],
        ),
        (
            "permissions",
            vec![
                UUID_PK,
                ("name", "character varying", Some(64), false, None),
                ("description", "text", None, true, None),
            ],
        ),
        (
            "role_permissions",
            vec![
                ("role_id", "uuid", None, false, None),
                ("permission_id", "uuid", None, false, None),
                (
                    "created_at",
                    "timestamp with time zone",
                    None,
                    false,
                    Some(TS_NOW),
                ),
            ],
        ),
        (
            "algorithms",
            vec![
                UUID_PK,
                ("name", "character varying", Some(32), false, None),
                ("type", "character varying", Some(16), false, None),
                ("description", "text", None, true, None),
                ("policy", "jsonb", None, false, Some("'{}'::jsonb")),
                (
                    "created_at",
                    "timestamp with time zone",
                    None,
                    false,
                    Some(TS_NOW),
                ),
            ],
        ),
        (
            "curves",
            vec![
                UUID_PK,
                ("name", "character varying", Some(64), false, None),
                ("algorithm_id", "uuid", None, false, None),
                ("parameters", "jsonb", None, false, None),
                ("policy", "jsonb", None, false, Some("'{}'::jsonb")),
                ("description", "text", None, true, None),
                (
                    "status",
                    "character varying",
                    Some(16),
                    false,
                    Some("'enabled'"),
                ),
                (
                    "created_at",
                    "timestamp with time zone",
                    None,
                    false,
                    Some(TS_NOW),
                ),
                (
                    "updated_at",
                    "timestamp with time zone",
                    None,
                    false,
                    Some(TS_NOW),
                ),
            ],
        ),
        (
            "public_keys",
            vec![
                UUID_PK,
                ("user_id", "uuid", None, false, None),
                ("algorithm_id", "uuid", None, false, None),
                ("curve_id", "uuid", None, true, None),
                ("key_data", "text", None, false, None),
                (
                    "format",
                    "character varying",
                    Some(16),
                    false,
                    Some("'PEM'"),
                ),
                ("name", "character varying", Some(64), true, None),
                ("metadata", "jsonb", None, true, None),
                (
                    "created_at",
                    "timestamp with time zone",
                    None,
                    false,
                    Some(TS_NOW),
                ),
                ("expires_at", "timestamp with time zone", None, true, None),
                (
                    "status",
                    "character varying",
                    Some(16),
                    false,
                    Some("'active'"),
                ),
            ],
        ),
        (
            "verification_records",
            vec![
                UUID_PK,
                ("user_id", "uuid", None, false, None),
                ("document_hash", "character varying", Some(128), false, None),
                ("public_key_id", "uuid", None, false, None),
                ("algorithm_id", "uuid", None, false, None),
                ("curve_id", "uuid", None, true, None),
                ("is_valid", "boolean", None, false, None),
                (
                    "verification_time",
                    "timestamp with time zone",
                    None,
                    false,
                    Some(TS_NOW),
                ),
                ("metadata", "jsonb", None, true, None),
            ],
        ),
        (
            "batch_verifications",
            vec![
                UUID_PK,
                ("user_id", "uuid", None, false, None),
                ("total_count", "integer", None, false, None),
                ("success_count", "integer", None, false, None),
                (
                    "verification_time",
                    "timestamp with time zone",
                    None,
                    false,
                    Some(TS_NOW),
                ),
                ("metadata", "jsonb", None, true, None),
            ],
        ),
        (
            "batch_verification_items",
            vec![
                UUID_PK,
                ("batch_id", "uuid", None, false, None),
                ("verification_record_id", "uuid", None, false, None),
                ("item_index", "integer", None, false, None),
                // Partitioning: the batch's (and record's) time, the
                // partition key the foreign keys must include.
                (
                    "verification_time",
                    "timestamp with time zone",
                    None,
                    false,
                    None,
                ),
            ],
        ),
    ]
}

async fn pool() -> (PgPool, String) {
    let database = fresh_database().await;
    (
        PgPool::connect(&admin_url(&database))
            .await
            .expect("connect"),
        database,
    )
}

#[tokio::test]
async fn every_seed_column_has_its_type_nullability_and_default() {
    let (db, _) = pool().await;
    for (table, columns) in seed_tables() {
        let rows: Vec<ColumnRow> = sqlx::query_as(
            "SELECT column_name::text, data_type::text, character_maximum_length::int, is_nullable::text, column_default::text
             FROM information_schema.columns WHERE table_schema = 'public' AND table_name = $1",
        )
        .bind(table)
        .fetch_all(&db)
        .await
        .expect("columns");
        let names: BTreeSet<&str> = rows.iter().map(|r| r.0.as_str()).collect();
        let expected: BTreeSet<&str> = columns.iter().map(|c| c.0).collect();
        assert_eq!(names, expected, "{table}: columns");
        for (name, data_type, max_len, nullable, default) in &columns {
            let row = rows.iter().find(|r| r.0 == *name).expect("column present");
            assert_eq!(row.1, *data_type, "{table}.{name}: type");
            assert_eq!(row.2, *max_len, "{table}.{name}: length");
            assert_eq!(row.3 == "YES", *nullable, "{table}.{name}: nullability");
            match default {
                Some(fragment) => assert!(
                    row.4
                        .as_deref()
                        .is_some_and(|d| d.to_lowercase().contains(&fragment.to_lowercase())),
                    "{table}.{name}: default {:?} lacks {fragment}",
                    row.4
                ),
                None => assert!(
                    row.4.is_none(),
                    "{table}.{name}: unexpected default {:?}",
                    row.4
                ),
            }
        }
    }
}

/// Constraint definitions of a table as PostgreSQL prints them.
async fn constraints(db: &PgPool, table: &str) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT pg_get_constraintdef(c.oid) FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid
         WHERE t.relname = $1 ORDER BY 1",
    )
    .bind(table)
    .fetch_all(db)
    .await
    .expect("constraints")
}

#[tokio::test]
async fn keys_uniques_foreign_keys_and_checks_match_the_seed() {
    let (db, _) = pool().await;
    let expect: &[(&str, &[&str])] = &[
        (
            "users",
            &[
                "PRIMARY KEY (id)",
                "UNIQUE (username)",
                "UNIQUE (email)",
                "CHECK (((status)::text = ANY ((ARRAY['active'::character varying, 'inactive'::character varying, 'suspended'::character varying])::text[])))",
            ],
        ),
        ("roles", &["PRIMARY KEY (id)", "UNIQUE (name)"]),
        (
            "user_roles",
            &[
                "PRIMARY KEY (user_id, role_id)",
                "FOREIGN KEY (user_id) REFERENCES users(id) ON DELETE CASCADE",
                "FOREIGN KEY (role_id) REFERENCES roles(id) ON DELETE CASCADE",
            ],
        ),
        ("permissions", &["PRIMARY KEY (id)", "UNIQUE (name)"]),
        (
            "role_permissions",
            &[
                "PRIMARY KEY (role_id, permission_id)",
                "FOREIGN KEY (role_id) REFERENCES roles(id) ON DELETE CASCADE",
                "FOREIGN KEY (permission_id) REFERENCES permissions(id) ON DELETE CASCADE",
            ],
        ),
        (
            "algorithms",
            &[
                "PRIMARY KEY (id)",
                "UNIQUE (name)",
                "CHECK (((type)::text = ANY ((ARRAY['ECDSA'::character varying, 'RSA'::character varying, 'EdDSA'::character varying, 'other'::character varying])::text[])))",
            ],
        ),
        (
            "curves",
            &[
                "PRIMARY KEY (id)",
                "UNIQUE (name)",
                "FOREIGN KEY (algorithm_id) REFERENCES algorithms(id)",
                "CHECK (((status)::text = ANY ((ARRAY['enabled'::character varying, 'disabled'::character varying])::text[])))",
            ],
        ),
        (
            "public_keys",
            &[
                "PRIMARY KEY (id)",
                "FOREIGN KEY (user_id) REFERENCES users(id) ON DELETE CASCADE",
                "FOREIGN KEY (algorithm_id) REFERENCES algorithms(id)",
                "FOREIGN KEY (curve_id) REFERENCES curves(id)",
                "CHECK (((format)::text = ANY ((ARRAY['PEM'::character varying, 'DER'::character varying, 'raw'::character varying])::text[])))",
                "CHECK (((status)::text = ANY ((ARRAY['active'::character varying, 'revoked'::character varying, 'expired'::character varying])::text[])))",
            ],
        ),
        (
            "verification_records",
            &[
                // Partitioned by day: keys include the partition key. The
                // references to the user, key, algorithm and curve are
                // checked per statement by triggers, not foreign keys
                // (migration 20261203000100; rls::records_keep_their_references_*).
                "PRIMARY KEY (id, verification_time)",
            ],
        ),
        (
            "batch_verifications",
            &[
                "PRIMARY KEY (id, verification_time)",
                "FOREIGN KEY (user_id) REFERENCES users(id)",
            ],
        ),
        (
            "batch_verification_items",
            &[
                // The references to the batch and the record are checked
                // per statement by triggers, not foreign keys (migration
                // 20261202000100; rls::batch_items_keep_their_references_*).
                "PRIMARY KEY (id, verification_time)",
                "UNIQUE (batch_id, item_index, verification_time)",
            ],
        ),
    ];
    for (table, wanted) in expect {
        let present = constraints(&db, table).await;
        for constraint in *wanted {
            assert!(
                present.iter().any(|p| p == constraint),
                "{table}: missing {constraint}; has {present:#?}"
            );
        }
    }
}

#[tokio::test]
async fn seed_indexes_exist_on_their_columns() {
    let (db, _) = pool().await;
    let expect = [
        ("idx_curves_algorithm_id", "curves", "(algorithm_id)"),
        ("idx_public_keys_user_id", "public_keys", "(user_id)"),
        (
            "idx_public_keys_algorithm_id",
            "public_keys",
            "(algorithm_id)",
        ),
        ("idx_public_keys_curve_id", "public_keys", "(curve_id)"),
        // The seed's (user_id) index is served by this one's first column
        // (migration 20261203000100 dropped it).
        (
            "idx_verification_records_user_time_id",
            "verification_records",
            "(user_id, verification_time DESC, id DESC)",
        ),
        (
            "idx_verification_records_public_key_id",
            "verification_records",
            "(public_key_id)",
        ),
        // The history's page order (time, then id) since migration
        // 20261203000100: a probe by time and id is a point lookup.
        (
            "idx_verification_records_verification_time",
            "verification_records",
            "(verification_time DESC, id DESC)",
        ),
        (
            "idx_batch_verifications_user_id",
            "batch_verifications",
            "(user_id)",
        ),
        (
            "idx_batch_verifications_verification_time",
            "batch_verifications",
            "(verification_time)",
        ),
        // The seed's idx_batch_verification_items_batch_id is served by the
        // first column of UNIQUE (batch_id, item_index, verification_time)
        // (migration 20261203000200 dropped it).
    ];
    for (name, table, columns) in expect {
        let definition: Option<String> =
            sqlx::query_scalar("SELECT indexdef FROM pg_indexes WHERE schemaname = 'public' AND indexname = $1 AND tablename = $2")
                .bind(name)
                .bind(table)
                .fetch_optional(&db)
                .await
                .expect("index query");
        let definition = definition.unwrap_or_else(|| panic!("index {name} missing"));
        assert!(
            definition.ends_with(&format!("USING btree {columns}")),
            "{name}: {definition}"
        );
    }
}

#[tokio::test]
async fn default_roles_permissions_and_grants_are_present() {
    let (db, _) = pool().await;
    let roles: Vec<(String, Option<String>)> =
        sqlx::query_as("SELECT name::text, description FROM roles ORDER BY name")
            .fetch_all(&db)
            .await
            .expect("roles");
    assert_eq!(
        roles,
        vec![
            (
                "admin".into(),
                Some("System administrator with full access".into())
            ),
            (
                "user".into(),
                Some("Regular user with limited access".into())
            ),
        ]
    );
    let permissions: Vec<(String, Option<String>)> =
        sqlx::query_as("SELECT name::text, description FROM permissions ORDER BY name")
            .fetch_all(&db)
            .await
            .expect("permissions");
    assert_eq!(
        permissions,
        vec![
            (
                "manage_curves".into(),
                Some("Add, update and delete curves".into())
            ),
            (
                "manage_public_keys".into(),
                Some("Add and remove public keys".into())
            ),
            (
                "manage_users".into(),
                Some("Create, update and delete users".into())
            ),
            (
                "verify_signatures".into(),
                Some("Verify document signatures".into())
            ),
        ]
    );
    let grants: Vec<(String, String)> = sqlx::query_as(
        "SELECT r.name::text, p.name::text FROM role_permissions rp JOIN roles r ON r.id = rp.role_id
         JOIN permissions p ON p.id = rp.permission_id ORDER BY 1, 2",
    )
    .fetch_all(&db)
    .await
    .expect("grants");
    let pairs: Vec<(&str, &str)> = grants
        .iter()
        .map(|(r, p)| (r.as_str(), p.as_str()))
        .collect();
    assert_eq!(
        pairs,
        vec![
            ("admin", "manage_curves"),
            ("admin", "manage_public_keys"),
            ("admin", "manage_users"),
            ("admin", "verify_signatures"),
            ("user", "manage_public_keys"),
            ("user", "verify_signatures"),
        ]
    );
}

#[tokio::test]
async fn default_algorithms_and_curves_are_present() {
    let (db, _) = pool().await;
    let algorithms: Vec<(String, String, Option<String>)> =
        sqlx::query_as("SELECT name::text, type::text, description FROM algorithms ORDER BY name")
            .fetch_all(&db)
            .await
            .expect("algorithms");
    assert_eq!(
        algorithms,
        vec![
            (
                "ECDSA".into(),
                "ECDSA".into(),
                Some("Elliptic Curve Digital Signature Algorithm".into())
            ),
            (
                "EdDSA".into(),
                "EdDSA".into(),
                Some("Edwards-curve Digital Signature Algorithm".into())
            ),
            (
                "RSA".into(),
                "RSA".into(),
                Some("Rivest–Shamir–Adleman algorithm".into())
            ),
        ]
    );
    let curves: Vec<(String, String, Option<String>, String)> = sqlx::query_as(
        "SELECT c.name::text, a.name::text, c.description, c.status::text FROM curves c JOIN algorithms a ON a.id = c.algorithm_id ORDER BY 1",
    )
    .fetch_all(&db)
    .await
    .expect("curves");
    assert_eq!(
        curves,
        vec![
            (
                "Curve25519".into(),
                "EdDSA".into(),
                Some("Curve used in Ed25519".into()),
                "enabled".into()
            ),
            (
                "P-256".into(),
                "ECDSA".into(),
                Some("NIST P-256 curve".into()),
                "enabled".into()
            ),
            (
                "secp256k1".into(),
                "ECDSA".into(),
                Some("Bitcoin curve".into()),
                "enabled".into()
            ),
        ]
    );
}

#[tokio::test]
async fn ecdsa_keys_and_verifications_must_specify_a_curve() {
    let (db, _) = pool().await;
    let user: uuid::Uuid = sqlx::query_scalar(
        "INSERT INTO users (username, email, password_hash) VALUES ('u', 'u@example.test', 'x') RETURNING id",
    )
    .fetch_one(&db)
    .await
    .expect("user");
    let no_curve = sqlx::query(
        "INSERT INTO public_keys (user_id, algorithm_id, key_data) SELECT $1, id, 'k' FROM algorithms WHERE name = 'ECDSA'",
    )
    .bind(user)
    .execute(&db)
    .await
    .expect_err("refused");
    let code = no_curve
        .as_database_error()
        .and_then(|e| e.code())
        .map(|c| c.to_string());
    assert_eq!(code.as_deref(), Some("23514"), "{no_curve}");
    // RSA needs none; an ECDSA key with a curve of another algorithm is refused.
    sqlx::query("INSERT INTO public_keys (user_id, algorithm_id, key_data) SELECT $1, id, 'k' FROM algorithms WHERE name = 'RSA'")
        .bind(user)
        .execute(&db)
        .await
        .expect("RSA without a curve");
    let mismatch = sqlx::query(
        "INSERT INTO public_keys (user_id, algorithm_id, curve_id, key_data)
         SELECT $1, a.id, c.id, 'k' FROM algorithms a, curves c WHERE a.name = 'ECDSA' AND c.name = 'Curve25519'",
    )
    .bind(user)
    .execute(&db)
    .await;
    assert!(
        mismatch.is_err(),
        "an ECDSA key on an EdDSA curve must be refused"
    );
    let key: uuid::Uuid = sqlx::query_scalar(
        "INSERT INTO public_keys (user_id, algorithm_id, curve_id, key_data)
         SELECT $1, a.id, c.id, 'k' FROM algorithms a, curves c WHERE a.name = 'ECDSA' AND c.name = 'P-256' RETURNING id",
    )
    .bind(user)
    .fetch_one(&db)
    .await
    .expect("ECDSA with its curve");
    let record = sqlx::query(
        "INSERT INTO verification_records (user_id, document_hash, public_key_id, algorithm_id, is_valid)
         SELECT $1, 'ab', $2, id, true FROM algorithms WHERE name = 'ECDSA'",
    )
    .bind(user)
    .bind(key)
    .execute(&db)
    .await
    .expect_err("refused");
    assert_eq!(
        record.as_database_error().and_then(|e| e.code()).as_deref(),
        Some("23514")
    );
}

#[tokio::test]
async fn updated_at_follows_updates_and_the_audit_log_is_append_only() {
    let (db, _) = pool().await;
    let (id, before): (uuid::Uuid, chrono::DateTime<chrono::Utc>) = sqlx::query_as(
        "INSERT INTO users (username, email, password_hash, created_at, updated_at)
         VALUES ('v', 'v@example.test', 'x', now() - interval '1 day', now() - interval '1 day') RETURNING id, updated_at",
    )
    .fetch_one(&db)
    .await
    .expect("user");
    let after: chrono::DateTime<chrono::Utc> = sqlx::query_scalar(
        "UPDATE users SET email = 'w@example.test' WHERE id = $1 RETURNING updated_at",
    )
    .bind(id)
    .fetch_one(&db)
    .await
    .expect("update");
    assert!(after > before);
    sqlx::query("INSERT INTO audit_log (action) VALUES ('test')")
        .execute(&db)
        .await
        .expect("insert");
    // Even the superuser cannot rewrite history.
    assert!(
        sqlx::query("UPDATE audit_log SET action = 'x'")
            .execute(&db)
            .await
            .is_err()
    );
    assert!(
        sqlx::query("DELETE FROM audit_log")
            .execute(&db)
            .await
            .is_err()
    );
}

#[tokio::test]
async fn row_level_security_is_enabled_and_forced_and_the_app_role_is_least_privileged() {
    let (db, _) = pool().await;
    for table in [
        "public_keys",
        "verification_records",
        "batch_verifications",
        "batch_verification_items",
    ] {
        let (enabled, forced): (bool, bool) = sqlx::query_as(
            "SELECT relrowsecurity, relforcerowsecurity FROM pg_class WHERE relname = $1",
        )
        .bind(table)
        .fetch_one(&db)
        .await
        .expect("table");
        assert!(
            enabled && forced,
            "{table}: RLS enabled {enabled}, forced {forced}"
        );
    }
    let (superuser, bypass, owns): (bool, bool, i64) = sqlx::query_as(
        "SELECT r.rolsuper, r.rolbypassrls, (SELECT count(*) FROM pg_class c WHERE c.relowner = r.oid)
         FROM pg_roles r WHERE r.rolname = 'sigil_app'",
    )
    .fetch_one(&db)
    .await
    .expect("role");
    assert!(
        !superuser && !bypass && owns == 0,
        "sigil_app: super {superuser}, bypassrls {bypass}, owns {owns}"
    );
    for table in [
        "verification_records",
        "batch_verifications",
        "batch_verification_items",
        "audit_log",
    ] {
        let privileges: Vec<String> = sqlx::query_scalar(
            "SELECT privilege_type::text FROM information_schema.role_table_grants
             WHERE grantee = 'sigil_app' AND table_name = $1 ORDER BY 1",
        )
        .bind(table)
        .fetch_all(&db)
        .await
        .expect("grants");
        assert_eq!(
            privileges,
            vec!["INSERT".to_owned(), "SELECT".to_owned()],
            "{table}"
        );
    }
}

#[tokio::test]
async fn serving_an_unmigrated_database_stops_with_a_clear_message() {
    let database = format!(
        "sigil_t_{}_bare_{}",
        std::process::id(),
        uuid::Uuid::new_v4().simple()
    );
    let admin = PgPool::connect(&admin_url("postgres"))
        .await
        .expect("admin");
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "CREATE DATABASE {database} OWNER sigil_owner"
    )))
    .execute(&admin)
    .await
    .expect("create");
    let config = crate::helpers::app::test_config(&database, "sigil-test:bare:");
    let error = sigil::app::Application::build(config)
        .await
        .err()
        .expect("refuses to start");
    let message = error.to_string();
    assert!(
        message.contains("not migrated") && message.contains("sigil migrate"),
        "{message}"
    );
    let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE {database} WITH (FORCE)"
    )))
    .execute(&admin)
    .await;
}
