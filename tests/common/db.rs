//! A fresh PostgreSQL database per test, migrated; benches drop theirs afterwards.

/// The server's admin URL (`BULKLEAVE_TEST_DATABASE_URL`, default the local server as
/// `postgres`).
pub fn admin_url() -> String {
    std::env::var("BULKLEAVE_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// Creates an empty database of its own for one test; returns its URL.
pub async fn empty_database() -> String {
    use sqlx::Connection as _;
    let admin = admin_url();
    let name = format!("bl_test_{}", uuid::Uuid::new_v4().simple());
    let mut conn = sqlx::PgConnection::connect(&admin)
        .await
        .expect("PostgreSQL reachable (see BULKLEAVE_TEST_DATABASE_URL)");
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .expect("create database");
    let mut url = url::Url::parse(&admin).expect("admin URL");
    url.set_path(&name);
    url.to_string()
}

/// A migrated database of its own for one test, and the ledger on it.
pub async fn fresh_ledger() -> (String, bulkleave::ledger::Ledger) {
    let url = empty_database().await;
    let ledger = bulkleave::ledger::Ledger::from_pool(
        sqlx::postgres::PgPoolOptions::new()
            .max_connections(5)
            .connect(&url)
            .await
            .expect("connect"),
    );
    ledger.migrate().await.expect("migrations apply");
    (url, ledger)
}

/// Drops the database at `url` (one of [`empty_database`]'s), closing `pool` on it first; best
/// effort, for benches that make many.
pub async fn drop_database(url: &str, pool: sqlx::PgPool) {
    use sqlx::Connection as _;
    pool.close().await;
    let Some(name) = url::Url::parse(url)
        .ok()
        .map(|u| u.path().trim_start_matches('/').to_owned())
    else {
        return;
    };
    if let Ok(mut conn) = sqlx::PgConnection::connect(&admin_url()).await {
        let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .execute(&mut conn)
            .await;
    }
}
