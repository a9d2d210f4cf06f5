//! The SQL backend: one implementation over sqlx's `Any` driver that runs on embedded SQLite
//! and on PostgreSQL.
//!
//! All DML is shared and uses `$N` placeholders, which SQLite accepts as numbered
//! parameters. The backends differ only in column types (see `migrations`) and in how
//! transactions begin (see [`Backend`]).

mod governance;
mod migrations;
#[cfg(test)]
mod tests;

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use portcullis_core::clock::UnixSeconds;
use portcullis_core::model::UnknownValue;
use portcullis_core::{
    AdminToken, Client, CredentialStatus, Environment, Grant, Partner, PartnerStatus, RevokedToken,
    RiskTier, Secret, SigningKey, SigningKeyStatus, StateDump,
};
use sqlx::any::{AnyConnectOptions, AnyPoolOptions, AnyRow};
use sqlx::error::ErrorKind;
use sqlx::{Any, AnyConnection, AnyPool, Row, Transaction};

use crate::{
    AdminTokenStore, ClientStore, GrantStore, PartnerStore, RevisionStore, RevocationStore,
    SigningKeyStore, StoreError, StoreResult,
};

/// Which database is behind the `Any` pool; decides the few things SQL cannot say portably.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    fn from_url(url: &str) -> Option<Backend> {
        let scheme = url.split_once(':')?.0.to_ascii_lowercase();
        match scheme.as_str() {
            "sqlite" => Some(Backend::Sqlite),
            // `postgresql:` needs the `//` (a bare `postgresql:foo` is not a valid Pg URL).
            "postgres" | "postgresql" if url[scheme.len()..].starts_with("://") => {
                Some(Backend::Postgres)
            }
            _ => None,
        }
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }

    /// How a writing transaction starts. SQLite's `IMMEDIATE` takes the write lock up front
    /// (waiting up to the busy timeout), instead of failing with `SQLITE_BUSY` when a reader
    /// later tries to upgrade.
    pub(crate) fn begin_write(self) -> &'static str {
        match self {
            Backend::Sqlite => "BEGIN IMMEDIATE",
            Backend::Postgres => "BEGIN",
        }
    }

    /// How a multi-statement read starts so that every statement sees one snapshot. A
    /// deferred SQLite transaction already does (WAL readers keep their snapshot);
    /// PostgreSQL's default READ COMMITTED takes a new snapshot per statement.
    fn begin_snapshot(self) -> &'static str {
        match self {
            Backend::Sqlite => "BEGIN",
            Backend::Postgres => "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
        }
    }

    /// Renders the column-type tokens of the schema. `{key}` columns are ordered by and
    /// compared on; PostgreSQL gets the "C" collation so ordering is bytewise, as SQLite's
    /// BINARY collation is, whatever the cluster's locale.
    pub(crate) fn render_ddl(self, ddl: &str) -> String {
        let (key, blob, unix_now) = match self {
            Backend::Sqlite => ("TEXT", "BLOB", "CAST(strftime('%s', 'now') AS INTEGER)"),
            Backend::Postgres => (
                "TEXT COLLATE \"C\"",
                "BYTEA",
                "CAST(EXTRACT(EPOCH FROM now()) AS BIGINT)",
            ),
        };
        ddl.replace("{key}", key)
            .replace("{blob}", blob)
            .replace("{unix_now}", unix_now)
    }

    fn max_connections(self) -> u32 {
        match self {
            // One writer at a time anyway; a few connections let readers run alongside it.
            Backend::Sqlite => 4,
            Backend::Postgres => 10,
        }
    }
}

/// The store on SQLite or PostgreSQL. Cheap to clone: clones share one connection pool.
#[derive(Debug, Clone)]
pub struct SqlStore {
    pool: AnyPool,
    backend: Backend,
}

impl SqlStore {
    /// Runs an `UPDATE ... SET column = $1 WHERE key = $2` that must hit exactly one row, and
    /// bumps the revision with it.
    async fn update_one<'q, T>(
        &self,
        sql: &'q str,
        value: T,
        (kind, id): (&'static str, &'q str),
    ) -> StoreResult<()>
    where
        T: 'q + Send + sqlx::Encode<'q, Any> + sqlx::Type<Any>,
    {
        let mut tx = self.begin_write().await?;
        let updated = sqlx::query(sql)
            .bind(value)
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if updated == 0 {
            return Err(not_found(kind, id));
        }
        bump_revision(&mut tx).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Connects to `sqlite://PATH` (the file is created if missing) or
    /// `postgres://...` / `postgresql://...`, and brings the schema up to date.
    pub async fn connect(url: &str) -> StoreResult<SqlStore> {
        let backend =
            Backend::from_url(url).ok_or_else(|| StoreError::UnsupportedUrl(redact_url(url)))?;
        sqlx::any::install_default_drivers();

        // The Any driver re-parses the URL for the concrete driver, so options must travel in
        // the URL itself; per-connection settings go in `after_connect`.
        let url = match backend {
            Backend::Sqlite => sqlite_url_with_create(url),
            Backend::Postgres => url.to_string(),
        };
        let options = AnyConnectOptions::from_str(&url)?;
        let pool = AnyPoolOptions::new()
            .max_connections(backend.max_connections())
            .acquire_timeout(Duration::from_secs(10))
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        // Busy timeout first, so the journal-mode switch can wait for locks.
                        // WAL lets readers (load_state) run while a write is in progress;
                        // foreign keys are off by default in SQLite.
                        for pragma in [
                            "PRAGMA busy_timeout = 5000",
                            "PRAGMA foreign_keys = ON",
                            "PRAGMA journal_mode = WAL",
                        ] {
                            sqlx::query(pragma).execute(&mut *conn).await?;
                        }
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await?;

        migrations::run(&pool, backend).await?;
        tracing::debug!(backend = backend.name(), "store connected");
        Ok(SqlStore { pool, backend })
    }

    /// `"sqlite"` or `"postgres"`.
    pub fn backend_name(&self) -> &'static str {
        self.backend.name()
    }

    /// Closes every connection; waits for connections in use to be returned. Later calls on
    /// this store (or its clones) fail.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    async fn begin_write(&self) -> StoreResult<Transaction<'static, Any>> {
        Ok(self.pool.begin_with(self.backend.begin_write()).await?)
    }
}

/// Makes `sqlite://PATH` create the file when missing, unless the URL chose a mode itself.
fn sqlite_url_with_create(url: &str) -> String {
    match url.split_once('?') {
        Some((_, query)) if query.split('&').any(|p| p.starts_with("mode=")) => url.to_string(),
        Some(_) => format!("{url}&mode=rwc"),
        None => format!("{url}?mode=rwc"),
    }
}

/// The URL without its user-info, so a password never reaches an error message or log.
fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{scheme}://***@{}", &rest[at + 1..]),
        None => url.to_string(),
    }
}

/// Bumps the state revision inside the caller's write transaction, so a reader sees the new
/// revision exactly when it can see the write.
async fn bump_revision(tx: &mut Transaction<'static, Any>) -> StoreResult<()> {
    sqlx::query("UPDATE state_revision SET revision = revision + 1 WHERE id = 1")
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// What a failed write ran into, told apart by the portable error kind both drivers report.
fn violation(err: &sqlx::Error) -> Option<ErrorKind> {
    match err {
        sqlx::Error::Database(db) => Some(db.kind()),
        _ => None,
    }
}

/// Maps a failed insert: a duplicate key is a conflict, a missing parent row (only partners
/// are referenced) is "partner not found".
fn insert_error(
    err: sqlx::Error,
    kind: &'static str,
    id: &str,
    partner_id: Option<&str>,
) -> StoreError {
    match (violation(&err), partner_id) {
        (Some(ErrorKind::UniqueViolation), _) => StoreError::Conflict {
            kind,
            id: id.to_string(),
        },
        (Some(ErrorKind::ForeignKeyViolation), Some(partner_id)) => StoreError::NotFound {
            kind: "partner",
            id: partner_id.to_string(),
        },
        _ => StoreError::Backend(err),
    }
}

fn not_found(kind: &'static str, id: &str) -> StoreError {
    StoreError::NotFound {
        kind,
        id: id.to_string(),
    }
}

// ---- Row decoding ------------------------------------------------------------------------

fn text_enum<T>(row: &AnyRow, column: &'static str) -> StoreResult<T>
where
    T: FromStr<Err = UnknownValue>,
{
    let text: String = row.try_get(column)?;
    text.parse().map_err(|e: UnknownValue| StoreError::Corrupt {
        field: column,
        detail: e.to_string(),
    })
}

/// JSON columns (client JWK sets, grant scopes) are TEXT on both backends.
fn json_error(field: &'static str) -> impl FnOnce(serde_json::Error) -> StoreError {
    move |e| StoreError::Corrupt {
        field,
        detail: e.to_string(),
    }
}

const PARTNER_COLUMNS: &str = "id, name, status, risk_tier, created_at";

fn partner_from_row(row: &AnyRow) -> StoreResult<Partner> {
    Ok(Partner {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        status: text_enum(row, "status")?,
        risk_tier: text_enum(row, "risk_tier")?,
        created_at: row.try_get("created_at")?,
    })
}

const CLIENT_COLUMNS: &str = "client_id, partner_id, environment, auth_method, jwks, \
                              tls_subject_dn, status, created_at, expires_at, last_used_at";

fn client_from_row(row: &AnyRow) -> StoreResult<Client> {
    let jwks: Option<String> = row.try_get("jwks")?;
    Ok(Client {
        client_id: row.try_get("client_id")?,
        partner_id: row.try_get("partner_id")?,
        environment: text_enum(row, "environment")?,
        auth_method: text_enum(row, "auth_method")?,
        jwks: jwks
            .map(|text| serde_json::from_str(&text).map_err(json_error("jwks")))
            .transpose()?,
        tls_subject_dn: row.try_get("tls_subject_dn")?,
        status: text_enum(row, "status")?,
        created_at: row.try_get("created_at")?,
        expires_at: row.try_get("expires_at")?,
        last_used_at: row.try_get("last_used_at")?,
    })
}

const GRANT_COLUMNS: &str = "partner_id, environment, scopes, justifications, policy";

fn grant_from_row(row: &AnyRow) -> StoreResult<Grant> {
    let scopes: String = row.try_get("scopes")?;
    let policy: String = row.try_get("policy")?;
    let justifications: String = row.try_get("justifications")?;
    Ok(Grant {
        partner_id: row.try_get("partner_id")?,
        environment: text_enum(row, "environment")?,
        scopes: serde_json::from_str(&scopes).map_err(json_error("scopes"))?,
        justifications: serde_json::from_str(&justifications)
            .map_err(json_error("justifications"))?,
        policy: serde_json::from_str(&policy).map_err(json_error("policy"))?,
    })
}

const SIGNING_KEY_COLUMNS: &str = "kid, environment, algorithm, private_pkcs8, status, created_at";

fn signing_key_from_row(row: &AnyRow) -> StoreResult<SigningKey> {
    Ok(SigningKey {
        kid: row.try_get("kid")?,
        environment: text_enum(row, "environment")?,
        algorithm: text_enum(row, "algorithm")?,
        private_pkcs8: Secret::new(row.try_get("private_pkcs8")?),
        status: text_enum(row, "status")?,
        created_at: row.try_get("created_at")?,
    })
}

fn revoked_token_from_row(row: &AnyRow) -> StoreResult<RevokedToken> {
    Ok(RevokedToken {
        jti: row.try_get("jti")?,
        client_id: row.try_get("client_id")?,
        expires_at: row.try_get("expires_at")?,
    })
}

fn admin_token_from_row(row: &AnyRow) -> StoreResult<AdminToken> {
    Ok(AdminToken {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        role: text_enum(row, "role")?,
        token_sha256: row.try_get("token_sha256")?,
        created_at: row.try_get("created_at")?,
    })
}

// ---- Reads shared by the list methods and load_state -------------------------------------
//
// They take a connection so load_state can run them all inside one snapshot transaction.
// Orders are total (ending in a unique key) so listings are deterministic.

async fn select_partners(conn: &mut AnyConnection) -> StoreResult<Vec<Partner>> {
    let sql = format!("SELECT {PARTNER_COLUMNS} FROM partners ORDER BY created_at, id");
    let rows = sqlx::query(&sql).fetch_all(conn).await?;
    rows.iter().map(partner_from_row).collect()
}

async fn select_clients(
    conn: &mut AnyConnection,
    partner_id: Option<&str>,
) -> StoreResult<Vec<Client>> {
    let rows = match partner_id {
        Some(partner_id) => {
            let sql = format!(
                "SELECT {CLIENT_COLUMNS} FROM clients WHERE partner_id = $1 \
                 ORDER BY created_at, client_id"
            );
            sqlx::query(&sql).bind(partner_id).fetch_all(conn).await?
        }
        None => {
            let sql =
                format!("SELECT {CLIENT_COLUMNS} FROM clients ORDER BY created_at, client_id");
            sqlx::query(&sql).fetch_all(conn).await?
        }
    };
    rows.iter().map(client_from_row).collect()
}

async fn select_grants(
    conn: &mut AnyConnection,
    partner_id: Option<&str>,
) -> StoreResult<Vec<Grant>> {
    let rows = match partner_id {
        Some(partner_id) => {
            let sql = format!(
                "SELECT {GRANT_COLUMNS} FROM grants WHERE partner_id = $1 ORDER BY environment"
            );
            sqlx::query(&sql).bind(partner_id).fetch_all(conn).await?
        }
        None => {
            let sql =
                format!("SELECT {GRANT_COLUMNS} FROM grants ORDER BY partner_id, environment");
            sqlx::query(&sql).fetch_all(conn).await?
        }
    };
    rows.iter().map(grant_from_row).collect()
}

async fn select_signing_keys(
    conn: &mut AnyConnection,
    environment: Option<Environment>,
) -> StoreResult<Vec<SigningKey>> {
    let rows = match environment {
        Some(environment) => {
            let sql = format!(
                "SELECT {SIGNING_KEY_COLUMNS} FROM signing_keys WHERE environment = $1 \
                 ORDER BY created_at, kid"
            );
            sqlx::query(&sql)
                .bind(environment.as_str())
                .fetch_all(conn)
                .await?
        }
        None => {
            let sql = format!(
                "SELECT {SIGNING_KEY_COLUMNS} FROM signing_keys \
                 ORDER BY environment, created_at, kid"
            );
            sqlx::query(&sql).fetch_all(conn).await?
        }
    };
    rows.iter().map(signing_key_from_row).collect()
}

async fn select_revoked_tokens(
    conn: &mut AnyConnection,
    now: UnixSeconds,
) -> StoreResult<Vec<RevokedToken>> {
    let rows = sqlx::query(
        "SELECT jti, client_id, expires_at FROM revoked_tokens WHERE expires_at > $1 \
         ORDER BY expires_at, jti",
    )
    .bind(now)
    .fetch_all(conn)
    .await?;
    rows.iter().map(revoked_token_from_row).collect()
}

async fn select_revision(conn: &mut AnyConnection) -> StoreResult<i64> {
    let row = sqlx::query("SELECT revision FROM state_revision WHERE id = 1")
        .fetch_optional(conn)
        .await?
        .ok_or_else(|| StoreError::Corrupt {
            field: "state_revision",
            detail: "the revision row is missing".to_string(),
        })?;
    Ok(row.try_get("revision")?)
}

// ---- Trait implementations ---------------------------------------------------------------

#[async_trait]
impl PartnerStore for SqlStore {
    async fn create_partner(&self, partner: &Partner) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO partners (id, name, status, risk_tier, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(partner.id.as_str())
        .bind(partner.name.as_str())
        .bind(partner.status.as_str())
        .bind(partner.risk_tier.as_str())
        .bind(partner.created_at)
        .execute(&mut *tx)
        .await
        .map_err(|e| insert_error(e, "partner", &partner.id, None))?;
        bump_revision(&mut tx).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn get_partner(&self, id: &str) -> StoreResult<Partner> {
        let sql = format!("SELECT {PARTNER_COLUMNS} FROM partners WHERE id = $1");
        let row = sqlx::query(&sql)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| not_found("partner", id))?;
        partner_from_row(&row)
    }

    async fn list_partners(&self) -> StoreResult<Vec<Partner>> {
        select_partners(&mut *self.pool.acquire().await?).await
    }

    async fn set_partner_status(&self, id: &str, status: PartnerStatus) -> StoreResult<()> {
        self.update_one(
            "UPDATE partners SET status = $1 WHERE id = $2",
            status.as_str(),
            ("partner", id),
        )
        .await
    }

    async fn move_partner(
        &self,
        id: &str,
        from: PartnerStatus,
        to: PartnerStatus,
    ) -> StoreResult<bool> {
        let mut tx = self.begin_write().await?;
        let updated = sqlx::query("UPDATE partners SET status = $1 WHERE id = $2 AND status = $3")
            .bind(to.as_str())
            .bind(id)
            .bind(from.as_str())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if updated == 0 {
            // Tell "gone" from "moved meanwhile".
            let exists = sqlx::query("SELECT id FROM partners WHERE id = $1")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?
                .is_some();
            return if exists {
                Ok(false)
            } else {
                Err(not_found("partner", id))
            };
        }
        bump_revision(&mut tx).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn set_partner_risk_tier(&self, id: &str, tier: RiskTier) -> StoreResult<()> {
        self.update_one(
            "UPDATE partners SET risk_tier = $1 WHERE id = $2",
            tier.as_str(),
            ("partner", id),
        )
        .await
    }
}

#[async_trait]
impl ClientStore for SqlStore {
    async fn create_client(&self, client: &Client) -> StoreResult<()> {
        let jwks = client
            .jwks
            .as_ref()
            .map(|jwks| serde_json::to_string(jwks).map_err(json_error("jwks")))
            .transpose()?;
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO clients (client_id, partner_id, environment, auth_method, jwks, \
             tls_subject_dn, status, created_at, expires_at, last_used_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(client.client_id.as_str())
        .bind(client.partner_id.as_str())
        .bind(client.environment.as_str())
        .bind(client.auth_method.as_str())
        .bind(jwks)
        .bind(client.tls_subject_dn.as_deref())
        .bind(client.status.as_str())
        .bind(client.created_at)
        .bind(client.expires_at)
        .bind(client.last_used_at)
        .execute(&mut *tx)
        .await
        .map_err(|e| insert_error(e, "client", &client.client_id, Some(&client.partner_id)))?;
        bump_revision(&mut tx).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn get_client(&self, client_id: &str) -> StoreResult<Client> {
        let sql = format!("SELECT {CLIENT_COLUMNS} FROM clients WHERE client_id = $1");
        let row = sqlx::query(&sql)
            .bind(client_id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| not_found("client", client_id))?;
        client_from_row(&row)
    }

    async fn list_clients(&self, partner_id: Option<&str>) -> StoreResult<Vec<Client>> {
        select_clients(&mut *self.pool.acquire().await?, partner_id).await
    }

    async fn set_client_status(
        &self,
        client_id: &str,
        status: CredentialStatus,
    ) -> StoreResult<()> {
        self.update_one(
            "UPDATE clients SET status = $1 WHERE client_id = $2",
            status.as_str(),
            ("client", client_id),
        )
        .await
    }

    async fn set_client_expiry(&self, client_id: &str, expires_at: UnixSeconds) -> StoreResult<()> {
        self.update_one(
            "UPDATE clients SET expires_at = $1 WHERE client_id = $2",
            expires_at,
            ("client", client_id),
        )
        .await
    }

    async fn record_client_use(&self, uses: &[(String, UnixSeconds)]) -> StoreResult<()> {
        // Not part of what the data plane serves from: no revision bump, so a busy token
        // endpoint does not make every node reload its snapshot.
        let mut tx = self.begin_write().await?;
        for (client_id, at) in uses {
            sqlx::query(
                "UPDATE clients SET last_used_at = $1 \
                 WHERE client_id = $2 AND (last_used_at IS NULL OR last_used_at < $1)",
            )
            .bind(*at)
            .bind(client_id.as_str())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

#[async_trait]
impl GrantStore for SqlStore {
    async fn put_grant(&self, grant: &Grant) -> StoreResult<()> {
        let scopes = serde_json::to_string(&grant.scopes).map_err(json_error("scopes"))?;
        let policy = serde_json::to_string(&grant.policy).map_err(json_error("policy"))?;
        let justifications =
            serde_json::to_string(&grant.justifications).map_err(json_error("justifications"))?;
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO grants (partner_id, environment, scopes, justifications, policy) \
             VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (partner_id, environment) \
             DO UPDATE SET scopes = excluded.scopes, justifications = excluded.justifications, \
             policy = excluded.policy",
        )
        .bind(grant.partner_id.as_str())
        .bind(grant.environment.as_str())
        .bind(scopes)
        .bind(justifications)
        .bind(policy)
        .execute(&mut *tx)
        .await
        .map_err(|e| insert_error(e, "grant", &grant.partner_id, Some(&grant.partner_id)))?;
        bump_revision(&mut tx).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn get_grant(&self, partner_id: &str, environment: Environment) -> StoreResult<Grant> {
        let sql = format!(
            "SELECT {GRANT_COLUMNS} FROM grants WHERE partner_id = $1 AND environment = $2"
        );
        let row = sqlx::query(&sql)
            .bind(partner_id)
            .bind(environment.as_str())
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| not_found("grant", &format!("{partner_id}/{environment}")))?;
        grant_from_row(&row)
    }

    async fn list_grants(&self, partner_id: Option<&str>) -> StoreResult<Vec<Grant>> {
        select_grants(&mut *self.pool.acquire().await?, partner_id).await
    }

    async fn delete_grant(&self, partner_id: &str, environment: Environment) -> StoreResult<bool> {
        let mut tx = self.begin_write().await?;
        let deleted = sqlx::query("DELETE FROM grants WHERE partner_id = $1 AND environment = $2")
            .bind(partner_id)
            .bind(environment.as_str())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        bump_revision(&mut tx).await?;
        tx.commit().await?;
        Ok(deleted > 0)
    }
}

#[async_trait]
impl SigningKeyStore for SqlStore {
    async fn add_signing_key(&self, key: &SigningKey) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO signing_keys (kid, environment, algorithm, private_pkcs8, status, \
             created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(key.kid.as_str())
        .bind(key.environment.as_str())
        .bind(key.algorithm.as_str())
        .bind(key.private_pkcs8.expose().as_slice())
        .bind(key.status.as_str())
        .bind(key.created_at)
        .execute(&mut *tx)
        .await
        .map_err(|e| insert_error(e, "signing key", &key.kid, None))?;
        bump_revision(&mut tx).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn list_signing_keys(&self, environment: Environment) -> StoreResult<Vec<SigningKey>> {
        select_signing_keys(&mut *self.pool.acquire().await?, Some(environment)).await
    }

    async fn set_signing_key_status(&self, kid: &str, status: SigningKeyStatus) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        let updated = sqlx::query("UPDATE signing_keys SET status = $1 WHERE kid = $2")
            .bind(status.as_str())
            .bind(kid)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if updated == 0 {
            return Err(not_found("signing key", kid));
        }
        bump_revision(&mut tx).await?;
        tx.commit().await?;
        Ok(())
    }
}

#[async_trait]
impl RevocationStore for SqlStore {
    async fn revoke_token(&self, token: &RevokedToken) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        let inserted = sqlx::query(
            "INSERT INTO revoked_tokens (jti, client_id, expires_at) VALUES ($1, $2, $3) \
             ON CONFLICT (jti) DO NOTHING",
        )
        .bind(token.jti.as_str())
        .bind(token.client_id.as_str())
        .bind(token.expires_at)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        // Revoking again changes nothing, so it does not make every node reload.
        if inserted > 0 {
            bump_revision(&mut tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn list_revoked_tokens(&self, now: UnixSeconds) -> StoreResult<Vec<RevokedToken>> {
        select_revoked_tokens(&mut *self.pool.acquire().await?, now).await
    }

    async fn prune_revoked_tokens(&self, now: UnixSeconds) -> StoreResult<u64> {
        let mut tx = self.begin_write().await?;
        // `<=` mirrors the `> now` of the listings: whatever they stopped returning goes.
        let pruned = sqlx::query("DELETE FROM revoked_tokens WHERE expires_at <= $1")
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        // Pruning runs on a timer; an empty prune must not make every node reload.
        if pruned > 0 {
            bump_revision(&mut tx).await?;
        }
        tx.commit().await?;
        Ok(pruned)
    }
}

#[async_trait]
impl AdminTokenStore for SqlStore {
    async fn add_admin_token(&self, token: &AdminToken) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO admin_tokens (id, name, role, token_sha256, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(token.id.as_str())
        .bind(token.name.as_str())
        .bind(token.role.as_str())
        .bind(token.token_sha256.as_str())
        .bind(token.created_at)
        .execute(&mut *tx)
        .await
        .map_err(|e| insert_error(e, "admin token", &token.id, None))?;
        bump_revision(&mut tx).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn find_admin_token(&self, token_sha256: &str) -> StoreResult<Option<AdminToken>> {
        let row = sqlx::query(
            "SELECT id, name, role, token_sha256, created_at FROM admin_tokens \
             WHERE token_sha256 = $1",
        )
        .bind(token_sha256)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(admin_token_from_row).transpose()
    }

    async fn count_admin_tokens(&self) -> StoreResult<u64> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM admin_tokens")
            .fetch_one(&self.pool)
            .await?;
        let count: i64 = row.try_get("n")?;
        u64::try_from(count).map_err(|e| StoreError::Corrupt {
            field: "admin_tokens count",
            detail: e.to_string(),
        })
    }
}

#[async_trait]
impl RevisionStore for SqlStore {
    async fn revision(&self) -> StoreResult<i64> {
        select_revision(&mut *self.pool.acquire().await?).await
    }

    async fn load_state(&self, now: UnixSeconds) -> StoreResult<StateDump> {
        let mut tx = self.pool.begin_with(self.backend.begin_snapshot()).await?;
        let dump = StateDump {
            revision: select_revision(&mut tx).await?,
            partners: select_partners(&mut tx).await?,
            clients: select_clients(&mut tx, None).await?,
            grants: select_grants(&mut tx, None).await?,
            signing_keys: select_signing_keys(&mut tx, None).await?,
            revoked_tokens: select_revoked_tokens(&mut tx, now).await?,
        };
        // Read-only: committing and rolling back are the same; commit ends it explicitly.
        tx.commit().await?;
        Ok(dump)
    }
}
