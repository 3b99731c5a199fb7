//! Connecting to SQLite or PostgreSQL and applying migrations.
use migration::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbErr};
use std::time::Duration;

/// Opens a pool. SQLite files run in WAL mode with a busy timeout; an in-memory SQLite
/// database uses a single, never-recycled connection so that it is one database.
pub async fn connect(url: &str, schema: Option<&str>) -> Result<DatabaseConnection, DbErr> {
    let mut opts = ConnectOptions::new(url.to_string());
    opts.sqlx_logging(false)
        .connect_timeout(Duration::from_secs(10))
        .acquire_timeout(Duration::from_secs(10));
    if url.starts_with("sqlite:") {
        let memory = url.contains(":memory:") || url.contains("mode=memory");
        if memory {
            opts.max_connections(1)
                .min_connections(1)
                .idle_timeout(None::<Duration>)
                .max_lifetime(None::<Duration>);
        } else {
            // SQLite has one writer at a time. Queueing for one connection in the pool is
            // far cheaper than several connections sleeping in SQLite's busy handler. The
            // server adds a pool of readers beside it (see `connect_pools`).
            opts.max_connections(1).min_connections(1);
            opts.map_sqlx_sqlite_opts(|o| {
                o.journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal)
                    .busy_timeout(Duration::from_secs(10))
                    .foreign_keys(true)
            });
        }
    } else {
        opts.max_connections(20);
        if let Some(s) = schema {
            opts.set_schema_search_path(s.to_string());
        }
    }
    Database::connect(opts).await
}

/// The connections a server uses: readers, and the one writer that write transactions queue
/// for. On SQLite files they are separate pools in WAL mode, so reads never wait for a write;
/// elsewhere (PostgreSQL, in-memory SQLite) they are the same pool.
#[derive(Clone)]
pub struct Pools {
    pub read: DatabaseConnection,
    pub write: DatabaseConnection,
}

impl From<DatabaseConnection> for Pools {
    fn from(db: DatabaseConnection) -> Self {
        Pools {
            read: db.clone(),
            write: db,
        }
    }
}

/// Readers on a SQLite file (WAL lets them run beside the writer).
pub const SQLITE_READERS: u32 = 4;

/// Opens the server's pools: on a SQLite file, [`SQLITE_READERS`] readers and one writer.
pub async fn connect_pools(url: &str) -> Result<Pools, DbErr> {
    let write = connect(url, None).await?;
    if sqlite_path(url).is_none() {
        return Ok(write.into());
    }
    let mut opts = ConnectOptions::new(url.to_string());
    opts.sqlx_logging(false)
        .connect_timeout(Duration::from_secs(10))
        .acquire_timeout(Duration::from_secs(10))
        .max_connections(SQLITE_READERS)
        .min_connections(1);
    opts.map_sqlx_sqlite_opts(|o| {
        o.journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true)
    });
    let read = Database::connect(opts).await?;
    Ok(Pools { read, write })
}

pub async fn migrate(db: &DatabaseConnection) -> Result<(), DbErr> {
    Migrator::up(db, None).await
}

/// The file of a SQLite URL (None for in-memory databases and other backends).
pub fn sqlite_path(url: &str) -> Option<std::path::PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or_default();
    if path.is_empty() || path.contains(":memory:") || url.contains("mode=memory") {
        return None;
    }
    Some(std::path::PathBuf::from(path))
}

/// Holds `<database>.lock` for as long as this process serves a SQLite database: SQLite is
/// single-process, and a second `serve` on the same file is refused with a clear message.
pub fn lock_sqlite(url: &str) -> Result<Option<std::fs::File>, String> {
    use std::io::{Read, Seek, Write};
    let Some(path) = sqlite_path(url) else {
        return Ok(None);
    };
    let lock_path = path.with_extension(match path.extension() {
        Some(e) => format!("{}.lock", e.to_string_lossy()),
        None => "lock".into(),
    });
    let mut f = std::fs::File::options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&lock_path)
        .map_err(|e| format!("cannot open {}: {e}", lock_path.display()))?;
    match f.try_lock() {
        Ok(()) => {
            let _ = f.set_len(0);
            let _ = f.rewind();
            let _ = write!(f, "{}", std::process::id());
            Ok(Some(f))
        }
        Err(std::fs::TryLockError::WouldBlock) => {
            let mut pid = String::new();
            let _ = f.read_to_string(&mut pid);
            Err(format!(
                "another workflow-intel process (pid {}) is already serving {}. SQLite is single-process: \
                 stop it, or use PostgreSQL (DATABASE_URL=postgres://…) to run several replicas",
                pid.trim(),
                path.display()
            ))
        }
        Err(std::fs::TryLockError::Error(e)) => {
            Err(format!("cannot lock {}: {e}", lock_path.display()))
        }
    }
}

/// Begins a transaction that will write. On SQLite it takes the write lock up front (BEGIN
/// IMMEDIATE), so it waits its turn under the busy timeout instead of failing with "database
/// is locked" when a read lock cannot be upgraded; elsewhere it is a plain BEGIN.
pub async fn begin_write<C: sea_orm::TransactionTrait>(db: &C) -> Result<C::Transaction, DbErr> {
    db.begin_with_options(sea_orm::TransactionOptions {
        sqlite_transaction_mode: Some(sea_orm::SqliteTransactionMode::Immediate),
        ..Default::default()
    })
    .await
}
