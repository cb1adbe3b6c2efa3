use sea_orm::{ConnectionTrait, Database};
use uuid::Uuid;

/// Where the test's database lives; dropped (on PostgreSQL) when the test ends.
pub enum TestDb {
    /// Kept for its `Drop`, which removes the directory and the database file in it.
    Sqlite {
        _dir: tempfile::TempDir,
    },
    Postgres {
        server_url: String,
        name: String,
    },
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let TestDb::Postgres { server_url, name } = self {
            let (server_url, name) = (server_url.clone(), name.clone());
            // Drop runs outside any runtime the test may still be shutting down.
            let _ = std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()?;
                runtime.block_on(async {
                    let admin = Database::connect(&server_url)
                        .await
                        .map_err(std::io::Error::other)?;
                    admin
                        .execute_unprepared(&format!(
                            "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                        ))
                        .await
                        .map_err(std::io::Error::other)?;
                    Ok::<_, std::io::Error>(())
                })
            })
            .join();
        }
    }
}

/// A fresh, empty database URL for one test.
pub async fn fresh_database() -> (String, TestDb) {
    match std::env::var("TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty())
    {
        Some(server_url) => {
            let name = format!("test_{}", Uuid::new_v4().simple());
            let admin = Database::connect(&server_url)
                .await
                .expect("TEST_DATABASE_URL must point at a reachable PostgreSQL server");
            admin
                .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
                .await
                .expect("create test database");
            let (base, query) = match server_url.split_once('?') {
                Some((base, query)) => (base, format!("?{query}")),
                None => (server_url.as_str(), String::new()),
            };
            let base = base.rsplit_once('/').map(|(b, _)| b).unwrap_or(base);
            let url = format!("{base}/{name}{query}");
            (url, TestDb::Postgres { server_url, name })
        }
        None => {
            let dir = tempfile::tempdir().expect("temp dir");
            let url = format!("sqlite://{}/test.db?mode=rwc", dir.path().display());
            (url, TestDb::Sqlite { _dir: dir })
        }
    }
}

pub fn on_postgres() -> bool {
    std::env::var("TEST_DATABASE_URL").is_ok_and(|u| !u.is_empty())
}
