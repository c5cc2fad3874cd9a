//! Users, their roles and permissions.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{Page, Store, StoreError, Tx};

status_enum! {
    /// Whether an account may log in and act.
    UserStatus {
        /// May log in.
        Active => "active",
        /// Switched off (by an administrator or the user's organisation).
        Inactive => "inactive",
        /// Blocked for cause.
        Suspended => "suspended",
    }
}

/// The role that sees every row and may administer users.
pub const ADMIN_ROLE: &str = "admin";
/// The role every new account gets unless an administrator says otherwise.
pub const USER_ROLE: &str = "user";

/// A user as the API shows it (never the password hash).
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct User {
    /// Identifier.
    pub id: Uuid,
    /// Login name.
    pub username: String,
    /// E-mail address.
    pub email: String,
    /// `active`, `inactive` or `suspended`.
    pub status: UserStatus,
    /// Roles held.
    pub roles: Vec<String>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// Last successful login.
    pub last_login: Option<DateTime<Utc>>,
}

/// What login needs: the hash and the status.
#[derive(Debug, Clone)]
pub struct Credentials {
    /// Identifier.
    pub id: Uuid,
    /// PHC-format argon2id hash.
    pub password_hash: String,
    /// Account status.
    pub status: UserStatus,
}

/// A user with everything authorisation needs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Principal {
    /// The user.
    #[serde(flatten)]
    pub user: User,
    /// Permissions granted through the user's roles.
    pub permissions: Vec<String>,
}

/// A new user.
#[derive(Debug, Clone)]
pub struct NewUser<'a> {
    /// Login name.
    pub username: &'a str,
    /// E-mail address.
    pub email: &'a str,
    /// argon2id hash.
    pub password_hash: &'a str,
    /// Initial status.
    pub status: UserStatus,
    /// Role names to grant.
    pub roles: &'a [String],
}

/// Changes to a user; `None` leaves a field alone.
#[derive(Debug, Clone, Default)]
pub struct UserChanges {
    /// New e-mail address.
    pub email: Option<String>,
    /// New password hash.
    pub password_hash: Option<String>,
    /// New status.
    pub status: Option<UserStatus>,
}

/// Why a role change is refused.
#[derive(Debug, thiserror::Error)]
pub enum RoleChangeError {
    /// A named role does not exist.
    #[error("unknown role {0:?}")]
    UnknownRole(String),
    /// The change would leave no active administrator.
    #[error("the last active administrator cannot lose the admin role")]
    LastAdmin,
    /// The user does not exist.
    #[error("no such user")]
    NoSuchUser,
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Store {
    /// Create a user with roles, in one transaction.
    pub async fn create_user(&self, new: &NewUser<'_>) -> Result<User, RoleChangeError> {
        let mut tx = self.begin().await?;
        let id = sqlx::query_scalar!(
            "INSERT INTO users (username, email, password_hash, status) VALUES ($1, $2, $3, $4) RETURNING id",
            new.username,
            new.email,
            new.password_hash,
            new.status.as_str(),
        )
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| same_username_conflict(e.into()))?;
        grant_roles(&mut tx, id, new.roles).await?;
        tx.commit().await.map_err(StoreError::from)?;
        self.user(id).await?.ok_or(RoleChangeError::NoSuchUser)
    }

    /// Credentials for a login attempt; the name matches in any case.
    pub async fn credentials(&self, username: &str) -> Result<Option<Credentials>, StoreError> {
        self.retry("credentials", || async {
            Ok(sqlx::query_as!(
                Credentials,
                r#"SELECT id, password_hash, status AS "status: UserStatus" FROM users WHERE lower(username) = lower($1)"#,
                username
            )
            .fetch_optional(self.pool())
            .await?)
        })
        .await
    }

    /// Note a successful login.
    pub async fn touch_last_login(&self, id: Uuid) -> Result<(), StoreError> {
        sqlx::query!("UPDATE users SET last_login = now() WHERE id = $1", id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// One user.
    pub async fn user(&self, id: Uuid) -> Result<Option<User>, StoreError> {
        self.retry("user", || async {
            Ok(sqlx::query_as!(
                User,
                r#"SELECT u.id, u.username, u.email, u.status AS "status: UserStatus", u.created_at, u.updated_at, u.last_login,
                          COALESCE(array_agg(r.name ORDER BY r.name) FILTER (WHERE r.name IS NOT NULL), '{}') AS "roles!"
                   FROM users u
                   LEFT JOIN user_roles ur ON ur.user_id = u.id
                   LEFT JOIN roles r ON r.id = ur.role_id
                   WHERE u.id = $1
                   GROUP BY u.id"#,
                id
            )
            .fetch_optional(self.pool())
            .await?)
        })
        .await
    }

    /// A user with their permissions (for authorisation).
    pub async fn principal(&self, id: Uuid) -> Result<Option<Principal>, StoreError> {
        let Some(user) = self.user(id).await? else {
            return Ok(None);
        };
        let permissions = self
            .retry("permissions", || async {
                Ok(sqlx::query_scalar!(
                    r#"SELECT DISTINCT p.name AS "name!"
                       FROM user_roles ur
                       JOIN role_permissions rp ON rp.role_id = ur.role_id
                       JOIN permissions p ON p.id = rp.permission_id
                       WHERE ur.user_id = $1
                       ORDER BY 1"#,
                    id
                )
                .fetch_all(self.pool())
                .await?)
            })
            .await?;
        Ok(Some(Principal { user, permissions }))
    }

    /// Users ordered by creation, after `page.after` (created_at, id).
    pub async fn users(
        &self,
        status: Option<UserStatus>,
        page: Page<(DateTime<Utc>, Uuid)>,
    ) -> Result<Vec<User>, StoreError> {
        let status = status.map(UserStatus::as_str);
        let (after_time, after_id) = page.after.unzip();
        self.retry("users", || async {
            Ok(sqlx::query_as!(
                User,
                r#"SELECT u.id, u.username, u.email, u.status AS "status: UserStatus", u.created_at, u.updated_at, u.last_login,
                          COALESCE(array_agg(r.name ORDER BY r.name) FILTER (WHERE r.name IS NOT NULL), '{}') AS "roles!"
                   FROM users u
                   LEFT JOIN user_roles ur ON ur.user_id = u.id
                   LEFT JOIN roles r ON r.id = ur.role_id
                   WHERE ($1::text IS NULL OR u.status = $1)
                     AND ($2::timestamptz IS NULL OR (u.created_at, u.id) > ($2, $3::uuid))
                   GROUP BY u.id
                   ORDER BY u.created_at, u.id
                   LIMIT $4"#,
                status,
                after_time,
                after_id,
                page.limit
            )
            .fetch_all(self.pool())
            .await?)
        })
        .await
    }

    /// Replace a user's roles, refusing to remove the last active admin.
    pub async fn set_roles(&self, id: Uuid, roles: &[String]) -> Result<User, RoleChangeError> {
        let mut tx = self.begin().await?;
        let admins_before = lock_admin_changes(&mut tx).await?;
        let exists = sqlx::query_scalar!("SELECT id FROM users WHERE id = $1 FOR UPDATE", id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(StoreError::from)?;
        if exists.is_none() {
            return Err(RoleChangeError::NoSuchUser);
        }
        sqlx::query!("DELETE FROM user_roles WHERE user_id = $1", id)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::from)?;
        grant_roles(&mut tx, id, roles).await?;
        ensure_an_admin_remains(&mut tx, admins_before).await?;
        tx.commit().await.map_err(StoreError::from)?;
        self.user(id).await?.ok_or(RoleChangeError::NoSuchUser)
    }

    /// Apply changes to a user (`None` if there is no such user), refusing
    /// to deactivate the last active admin.
    pub async fn update_user(
        &self,
        id: Uuid,
        changes: &UserChanges,
    ) -> Result<Option<User>, RoleChangeError> {
        let mut tx = self.begin().await?;
        let admins_before = lock_admin_changes(&mut tx).await?;
        let updated = sqlx::query_scalar!(
            "UPDATE users SET email = COALESCE($2, email), password_hash = COALESCE($3, password_hash),
                              status = COALESCE($4, status)
             WHERE id = $1 RETURNING id",
            id,
            changes.email,
            changes.password_hash,
            changes.status.map(UserStatus::as_str),
        )
        .fetch_optional(&mut *tx)
        .await
        .map_err(StoreError::from)?;
        if updated.is_none() {
            return Ok(None);
        }
        ensure_an_admin_remains(&mut tx, admins_before).await?;
        tx.commit().await.map_err(StoreError::from)?;
        Ok(self.user(id).await?)
    }

    /// Delete a user. `Ok(false)` if there was none; a conflict if the user
    /// has verification history (records are never deleted).
    pub async fn delete_user(&self, id: Uuid) -> Result<bool, RoleChangeError> {
        // The DELETE's trigger reads the records' partitions while partition
        // maintenance, creating one, locks the users' table: PostgreSQL
        // breaks that deadlock by rolling one side back, so the deletion
        // runs again (as does one that lost its connection).
        self.retry("delete_user", || async {
            match self.delete_user_once(id).await {
                Err(RoleChangeError::Store(error)) => Err(error),
                outcome => Ok(outcome),
            }
        })
        .await?
    }

    async fn delete_user_once(&self, id: Uuid) -> Result<bool, RoleChangeError> {
        let mut tx = self.begin().await?;
        let admins_before = lock_admin_changes(&mut tx).await?;
        let deleted = sqlx::query!("DELETE FROM users WHERE id = $1", id)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::from)?
            .rows_affected();
        if deleted == 0 {
            return Ok(false);
        }
        ensure_an_admin_remains(&mut tx, admins_before).await?;
        tx.commit().await.map_err(StoreError::from)?;
        Ok(true)
    }
}

/// The case-insensitive index guards the same rule as the schema's
/// `users_username_key` (`ALICE` after `alice`): report it under that name,
/// so callers map one constraint to one problem.
fn same_username_conflict(error: StoreError) -> StoreError {
    match error {
        StoreError::Conflict { constraint } if constraint == "users_username_lower_key" => {
            StoreError::Conflict {
                constraint: "users_username_key".to_owned(),
            }
        }
        other => other,
    }
}

async fn grant_roles(tx: &mut Tx, user: Uuid, roles: &[String]) -> Result<(), RoleChangeError> {
    for role in roles {
        let granted = sqlx::query!(
            "INSERT INTO user_roles (user_id, role_id) SELECT $1, id FROM roles WHERE name = $2 ON CONFLICT DO NOTHING",
            user,
            role
        )
        .execute(&mut **tx)
        .await
        .map_err(StoreError::from)?;
        if granted.rows_affected() == 0 {
            let known = sqlx::query_scalar!("SELECT id FROM roles WHERE name = $1", role)
                .fetch_optional(&mut **tx)
                .await
                .map_err(StoreError::from)?;
            if known.is_none() {
                return Err(RoleChangeError::UnknownRole(role.clone()));
            }
        }
    }
    Ok(())
}

/// Serialise changes that can remove an admin (so two concurrent demotions
/// cannot both pass the check) and count the active admins beforehand.
async fn lock_admin_changes(tx: &mut Tx) -> Result<i64, StoreError> {
    sqlx::query_scalar!("SELECT pg_advisory_xact_lock(hashtext('sigil.role_changes'))")
        .fetch_one(&mut **tx)
        .await?;
    count_active_admins(tx).await
}

async fn count_active_admins(tx: &mut Tx) -> Result<i64, StoreError> {
    Ok(sqlx::query_scalar!(
        r#"SELECT count(*) AS "count!" FROM users u
           JOIN user_roles ur ON ur.user_id = u.id JOIN roles r ON r.id = ur.role_id
           WHERE r.name = 'admin' AND u.status = 'active'"#
    )
    .fetch_one(&mut **tx)
    .await?)
}

/// Refuse a change that leaves no active admin where there was one.
async fn ensure_an_admin_remains(tx: &mut Tx, before: i64) -> Result<(), RoleChangeError> {
    if before > 0 && count_active_admins(tx).await? == 0 {
        Err(RoleChangeError::LastAdmin)
    } else {
        Ok(())
    }
}
