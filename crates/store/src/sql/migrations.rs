//! The schema, as an ordered list of migrations applied once each.
//!
//! DDL is written once with two type tokens, `{key}` and `{blob}`, rendered per backend by
//! [`Backend::render_ddl`]. Everything else (all DML) is identical on both backends.
//! Never edit a released migration: add a new one with the next version.

use portcullis_core::{Clock, SystemClock};
use sqlx::{AnyPool, Row};

use super::Backend;
use crate::{StoreError, StoreResult};

pub(super) struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub statements: &'static [&'static str],
}

/// Ordered by version; versions are never reused.
pub(super) const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "initial schema",
        statements: &[
            // One row; every write bumps it in its own transaction so pollers notice changes.
            "CREATE TABLE state_revision (
            id BIGINT PRIMARY KEY CHECK (id = 1),
            revision BIGINT NOT NULL
        )",
            "INSERT INTO state_revision (id, revision) VALUES (1, 0)",
            "CREATE TABLE partners (
            id {key} PRIMARY KEY,
            name TEXT NOT NULL,
            status TEXT NOT NULL,
            created_at BIGINT NOT NULL
        )",
            "CREATE TABLE clients (
            client_id {key} PRIMARY KEY,
            partner_id {key} NOT NULL REFERENCES partners (id),
            environment TEXT NOT NULL,
            auth_method TEXT NOT NULL,
            jwks TEXT,
            tls_subject_dn TEXT,
            status TEXT NOT NULL,
            created_at BIGINT NOT NULL,
            expires_at BIGINT
        )",
            "CREATE INDEX clients_by_partner ON clients (partner_id)",
            "CREATE TABLE grants (
            partner_id {key} NOT NULL REFERENCES partners (id),
            environment {key} NOT NULL,
            scopes TEXT NOT NULL,
            PRIMARY KEY (partner_id, environment)
        )",
            "CREATE TABLE signing_keys (
            kid {key} PRIMARY KEY,
            environment TEXT NOT NULL,
            algorithm TEXT NOT NULL,
            private_pkcs8 {blob} NOT NULL,
            status TEXT NOT NULL,
            created_at BIGINT NOT NULL
        )",
            // No foreign key to clients: a revocation must never fail because of what the
            // client table holds, and the row is only kept until the token expires anyway.
            "CREATE TABLE revoked_tokens (
            jti {key} PRIMARY KEY,
            client_id TEXT NOT NULL,
            expires_at BIGINT NOT NULL
        )",
            "CREATE INDEX revoked_tokens_by_expiry ON revoked_tokens (expires_at)",
            "CREATE TABLE admin_tokens (
            id {key} PRIMARY KEY,
            name TEXT NOT NULL,
            role TEXT NOT NULL,
            token_sha256 TEXT NOT NULL UNIQUE,
            created_at BIGINT NOT NULL
        )",
        ],
    },
    Migration {
        version: 2,
        name: "grant policy",
        statements: &[
            // Rate limits, quotas, source allowlist and field policies, as one JSON document:
            // they are read and replaced together, never queried by part.
            "ALTER TABLE grants ADD COLUMN policy TEXT NOT NULL DEFAULT '{}'",
        ],
    },
    Migration {
        version: 3,
        name: "partner governance",
        statements: &[
            // Onboarding replaced the single "active" state; partners already serving were
            // in production.
            "UPDATE partners SET status = 'production' WHERE status = 'active'",
            "ALTER TABLE partners ADD COLUMN risk_tier TEXT NOT NULL DEFAULT 'medium'",
            "ALTER TABLE clients ADD COLUMN last_used_at BIGINT",
            // Use was not recorded before: count existing credentials as used now, or the
            // first dormancy check would revoke every old credential, busy ones included.
            "UPDATE clients SET last_used_at = {unix_now}",
            "ALTER TABLE grants ADD COLUMN justifications TEXT NOT NULL DEFAULT '{}'",
            // Evidence and contracts: JSON documents read and replaced whole, one per kind.
            "CREATE TABLE partner_documents (
            partner_id {key} NOT NULL REFERENCES partners (id),
            kind {key} NOT NULL,
            body TEXT NOT NULL,
            updated_at BIGINT NOT NULL,
            updated_by TEXT NOT NULL,
            PRIMARY KEY (partner_id, kind)
        )",
            "CREATE TABLE approvals (
            id {key} PRIMARY KEY,
            partner_id {key} NOT NULL REFERENCES partners (id),
            kind TEXT NOT NULL,
            change TEXT NOT NULL,
            status TEXT NOT NULL,
            requested_by TEXT NOT NULL,
            requested_by_id TEXT NOT NULL,
            requested_at BIGINT NOT NULL,
            justification TEXT NOT NULL,
            decided_by TEXT,
            decided_at BIGINT,
            decision_justification TEXT,
            outcome TEXT
        )",
            "CREATE INDEX approvals_by_partner ON approvals (partner_id, requested_at)",
            "CREATE TABLE reviews (
            id {key} PRIMARY KEY,
            partner_id {key} NOT NULL REFERENCES partners (id),
            status TEXT NOT NULL,
            opened_at BIGINT NOT NULL,
            due_at BIGINT NOT NULL,
            completed_at BIGINT,
            reviewer TEXT,
            decisions TEXT NOT NULL DEFAULT '[]'
        )",
            "CREATE INDEX reviews_by_partner ON reviews (partner_id, due_at)",
            // One open review per partner, even with several nodes sweeping.
            "CREATE UNIQUE INDEX reviews_one_open ON reviews (partner_id) WHERE status = 'open'",
        ],
    },
];

/// An arbitrary constant naming the PostgreSQL advisory lock that serialises migrations when
/// several nodes start at once.
const POSTGRES_MIGRATION_LOCK: i64 = 0x706f_7274_6375_6c6c; // "portcull"

/// Applies every migration the database has not seen, all in one transaction, so a failed
/// migration leaves the schema as it was.
pub(super) async fn run(pool: &AnyPool, backend: Backend) -> StoreResult<()> {
    let mut tx = pool.begin_with(backend.begin_write()).await?;
    if backend == Backend::Postgres {
        // Transaction-scoped: released on commit or rollback.
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(POSTGRES_MIGRATION_LOCK)
            .execute(&mut *tx)
            .await?;
    }
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
            version BIGINT PRIMARY KEY,
            name TEXT NOT NULL,
            applied_at BIGINT NOT NULL
        )",
    )
    .execute(&mut *tx)
    .await?;

    let applied: Vec<i64> = sqlx::query("SELECT version FROM schema_migrations")
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|row| row.try_get::<i64, _>("version"))
        .collect::<Result<_, _>>()?;
    let known = MIGRATIONS.last().map_or(0, |m| m.version);
    if let Some(newer) = applied.iter().copied().find(|v| *v > known) {
        // A newer binary migrated this database; running old code on it could corrupt it.
        return Err(StoreError::Corrupt {
            field: "schema_migrations",
            detail: format!(
                "database is at schema version {newer}, this build knows up to {known}; \
                 upgrade portcullis"
            ),
        });
    }

    for migration in MIGRATIONS.iter().filter(|m| !applied.contains(&m.version)) {
        tracing::info!(
            version = migration.version,
            name = migration.name,
            backend = backend.name(),
            "applying store migration"
        );
        for statement in migration.statements {
            sqlx::query(&backend.render_ddl(statement))
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
        )
        .bind(migration.version)
        .bind(migration.name)
        .bind(SystemClock.now())
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}
