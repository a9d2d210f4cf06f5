use super::*;

#[test]
fn recognises_backends_by_scheme() {
    assert_eq!(
        Backend::from_url("sqlite:///tmp/x.db"),
        Some(Backend::Sqlite)
    );
    assert_eq!(Backend::from_url("SQLite://x.db"), Some(Backend::Sqlite));
    assert_eq!(
        Backend::from_url("postgres://u@h/db"),
        Some(Backend::Postgres)
    );
    assert_eq!(
        Backend::from_url("postgresql://u@h/db"),
        Some(Backend::Postgres)
    );
    assert_eq!(Backend::from_url("postgresql:db"), None);
    assert_eq!(Backend::from_url("mysql://u@h/db"), None);
    assert_eq!(Backend::from_url("/tmp/x.db"), None);
}

#[test]
fn sqlite_urls_create_the_file_unless_a_mode_is_given() {
    assert_eq!(
        sqlite_url_with_create("sqlite:///d/s.db"),
        "sqlite:///d/s.db?mode=rwc"
    );
    assert_eq!(
        sqlite_url_with_create("sqlite:///d/s.db?cache=private"),
        "sqlite:///d/s.db?cache=private&mode=rwc"
    );
    assert_eq!(
        sqlite_url_with_create("sqlite:///d/s.db?mode=ro"),
        "sqlite:///d/s.db?mode=ro"
    );
}

#[test]
fn redacts_credentials_from_urls() {
    assert_eq!(
        redact_url("mysql://root:hunter2@db:3306/x"),
        "mysql://***@db:3306/x"
    );
    assert_eq!(redact_url("mysql://db/x?u=a@b"), "mysql://db/x?u=a@b");
    assert_eq!(redact_url("nonsense"), "nonsense");
}

#[test]
fn ddl_differs_only_in_column_types() {
    let ddl = "CREATE TABLE t (k {key} PRIMARY KEY, b {blob})";
    assert_eq!(
        Backend::Sqlite.render_ddl(ddl),
        "CREATE TABLE t (k TEXT PRIMARY KEY, b BLOB)"
    );
    assert_eq!(
        Backend::Postgres.render_ddl(ddl),
        "CREATE TABLE t (k TEXT COLLATE \"C\" PRIMARY KEY, b BYTEA)"
    );
}

/// The shared DML relies on SQLite reading `$N` as "the N-th bound value", not as a named
/// parameter bound in order of appearance. Out-of-order and repeated uses prove it.
#[tokio::test]
async fn sqlite_numbers_dollar_placeholders_like_postgres() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("p.db").display());
    let store = SqlStore::connect(&url).await.unwrap();
    let row = sqlx::query("SELECT $2 || $1 || $2 AS s, $3 AS n")
        .bind("a")
        .bind("b")
        .bind(7_i64)
        .fetch_one(&store.pool)
        .await
        .unwrap();
    assert_eq!(row.try_get::<String, _>("s").unwrap(), "bab");
    assert_eq!(row.try_get::<i64, _>("n").unwrap(), 7);
}

#[tokio::test]
async fn sqlite_connections_use_wal_and_foreign_keys() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("p.db").display());
    let store = SqlStore::connect(&url).await.unwrap();
    let mut conn = store.pool.acquire().await.unwrap();
    let mode: String = sqlx::query("PRAGMA journal_mode")
        .fetch_one(&mut *conn)
        .await
        .unwrap()
        .try_get(0)
        .unwrap();
    assert_eq!(mode, "wal");
    let fk: i64 = sqlx::query("PRAGMA foreign_keys")
        .fetch_one(&mut *conn)
        .await
        .unwrap()
        .try_get(0)
        .unwrap();
    assert_eq!(fk, 1);
}
