//! Connecting to SQLite or PostgreSQL and applying migrations.
use migration::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbErr};
use std::time::Duration;

pub mod alloc;
pub mod batch;
pub use batch::{Batch, Savepoint};

/// How long a pooled PostgreSQL connection may sit idle before the pool pings it on checkout.
/// A connection in use (the hot path) is handed out without a ping: sqlx's default pings on
/// every checkout, one more round trip per statement (to PostgreSQL, or to a SQLite
/// connection's thread and back). A connection the server or a proxy dropped while idle is
/// still caught before use.
pub const PING_AFTER_IDLE: Duration = Duration::from_secs(10);

/// The options every pool shares: timeouts, no statement logging, and pings on checkout only
/// where a connection can have gone away unseen (a PostgreSQL connection idle for
/// [`PING_AFTER_IDLE`]); a SQLite connection is a file handle in this process and never does.
fn base_options(url: &str) -> ConnectOptions {
    let mut opts = ConnectOptions::new(url.to_string());
    opts.sqlx_logging(false)
        .connect_timeout(Duration::from_secs(10))
        .acquire_timeout(Duration::from_secs(10));
    if url.starts_with("sqlite:") {
        opts.test_before_acquire(false);
    } else {
        opts.test_before_acquire_if_idle_for(PING_AFTER_IDLE);
    }
    opts
}

/// Opens a pool. SQLite files run in WAL mode with a busy timeout; an in-memory SQLite
/// database uses a single, never-recycled connection so that it is one database.
pub async fn connect(url: &str, schema: Option<&str>) -> Result<DatabaseConnection, DbErr> {
    let mut opts = base_options(url);
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
            // The group writer leaves each job's savepoint open until the group's commit, so
            // the statement journal holds a whole group's page images: kept in memory, not
            // spilled to a temporary file past 64 KiB.
            opts.map_sqlx_sqlite_opts(|o| {
                o.journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal)
                    .busy_timeout(Duration::from_secs(10))
                    .foreign_keys(true)
                    .pragma("temp_store", "memory")
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
    let mut opts = base_options(url);
    opts.max_connections(SQLITE_READERS).min_connections(1);
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

/// Additions to rows that many write jobs share (counters), which a job leaves to the end of
/// its transaction. On SQLite the group writer adds up those of every job it kept and writes
/// them once, just before the group's commit; elsewhere each job's are written at the end of
/// its own transaction.
pub trait Deferred: Send + 'static {
    /// Adds `other` to this; `other` is of this type (the group writer merges by
    /// [`Deferred::kind`]).
    fn merge(&mut self, other: Box<dyn std::any::Any>);
    /// Writes these additions in `txn`.
    fn write<'a>(
        self: Box<Self>,
        txn: &'a sea_orm::DatabaseTransaction,
    ) -> futures_util::future::BoxFuture<'a, crate::error::AppResult<()>>;
    /// This, to be merged into another of its type.
    fn into_any(self: Box<Self>) -> Box<dyn std::any::Any>;
    /// Its type (`TypeId::of::<Self>()`): additions of one type are merged.
    fn kind(&self) -> std::any::TypeId;
}

/// A write job as the group writer runs it: its work under its savepoint (true when it
/// succeeded), what to do once the group's commit is known, and what it deferred.
type Finish = Box<dyn FnOnce(Result<(), String>) + Send>;
type Ran = (bool, Finish, Option<Box<dyn Deferred>>);
type Job = Box<
    dyn for<'a> FnOnce(
            &'a sea_orm::DatabaseTransaction,
            &'a Savepoint,
        ) -> futures_util::future::BoxFuture<'a, Ran>
        + Send,
>;

/// What a job that opens its own savepoint returns: its value and what it deferred.
pub type JobOutput<T> = crate::error::AppResult<(T, Option<Box<dyn Deferred>>)>;

/// Write jobs one group commit takes at most.
pub const GROUP_MAX: usize = 64;

/// Group commit on SQLite: write transactions queue for the one writer, which runs every job
/// waiting at that moment in one transaction, each under its own savepoint (a failing job
/// rolls back only its own work), and commits once for all of them. A job's savepoint is
/// opened by its first command and left open when the job succeeds (the commit releases them
/// all), so it costs no hand-off to the connection's thread of its own. A caller's `write`
/// returns only after that commit, so what it wrote is visible to every reader. On PostgreSQL,
/// which commits concurrently, each job is its own transaction on the pool.
pub struct GroupWriter {
    queue: Option<tokio::sync::mpsc::Sender<Job>>,
    pool: DatabaseConnection,
}

/// What the group writer counts: commits, and the jobs they carried.
#[derive(Clone)]
pub struct GroupCounters {
    pub commits: prometheus::IntCounter,
    pub jobs: prometheus::IntCounter,
}

impl GroupWriter {
    /// Starts the writer task for `writer` (which needs a running tokio runtime); the task
    /// ends when this is dropped.
    pub fn start(writer: DatabaseConnection, counters: GroupCounters) -> Self {
        let grouped = writer.get_database_backend() == sea_orm::DatabaseBackend::Sqlite;
        let queue = grouped.then(|| {
            let (tx, rx) = tokio::sync::mpsc::channel(1024);
            tokio::spawn(run_group_writer(writer.clone(), rx, counters));
            tx
        });
        GroupWriter {
            queue,
            pool: writer,
        }
    }

    /// Write jobs waiting for the SQLite group writer (not those of the group it is running);
    /// 0 elsewhere.
    pub fn queued(&self) -> usize {
        self.queue
            .as_ref()
            .map_or(0, |q| q.max_capacity() - q.capacity())
    }

    /// Runs `f` in a write transaction and returns once it is committed. `f` must do all its
    /// work through the transaction it is given (on in-memory SQLite the writer's connection
    /// is the pool's only one).
    pub async fn write<T, F>(&self, f: F) -> crate::error::AppResult<T>
    where
        T: Send + 'static,
        F: for<'a> FnOnce(
                &'a sea_orm::DatabaseTransaction,
            )
                -> futures_util::future::BoxFuture<'a, crate::error::AppResult<T>>
            + Send
            + 'static,
    {
        use futures_util::FutureExt;
        self.write_deferring(move |txn| {
            f(txn)
                .map(|r| r.map(|v| (v, None::<Box<dyn Deferred>>)))
                .boxed()
        })
        .await
    }

    /// [`Self::write`] for a job that also leaves additions to shared rows (the [`Deferred`] it
    /// returns) to the end of its transaction: on SQLite, to the end of its group, written once
    /// for all the group's jobs.
    pub async fn write_deferring<T, F>(&self, f: F) -> crate::error::AppResult<T>
    where
        T: Send + 'static,
        F: for<'a> FnOnce(
                &'a sea_orm::DatabaseTransaction,
            ) -> futures_util::future::BoxFuture<'a, JobOutput<T>>
            + Send
            + 'static,
    {
        self.write_batched(move |txn, sp| {
            Box::pin(async move {
                sp.open(txn).await?;
                f(txn).await
            })
        })
        .await
    }

    /// [`Self::write_deferring`] for a job that opens its savepoint itself, with its first
    /// command ([`Savepoint::take_opening`] at the head of a [`Batch`]): it must send that
    /// before anything else. Outside the SQLite group writer the savepoint is already open.
    pub async fn write_batched<T, F>(&self, f: F) -> crate::error::AppResult<T>
    where
        T: Send + 'static,
        F: for<'a> FnOnce(
                &'a sea_orm::DatabaseTransaction,
                &'a Savepoint,
            ) -> futures_util::future::BoxFuture<'a, JobOutput<T>>
            + Send
            + 'static,
    {
        use crate::error::AppError;
        let Some(queue) = &self.queue else {
            let txn = begin_write(&self.pool).await?;
            let (out, deferred) = f(&txn, &Savepoint::none()).await?;
            if let Some(d) = deferred {
                d.write(&txn).await?;
            }
            txn.commit().await?;
            return Ok(out);
        };
        let (done, rx) = tokio::sync::oneshot::channel::<crate::error::AppResult<T>>();
        let job: Job = Box::new(move |txn, sp| {
            Box::pin(async move {
                let (r, deferred) = match f(txn, sp).await {
                    Ok((v, d)) => (Ok(v), d),
                    Err(e) => (Err(e), None),
                };
                let ok = r.is_ok();
                let finish: Finish = Box::new(move |commit| {
                    let out = match (r, commit) {
                        (Ok(v), Ok(())) => Ok(v),
                        (Err(e), _) => Err(e),
                        (Ok(_), Err(e)) => Err(AppError::Internal(format!("commit failed: {e}"))),
                    };
                    let _ = done.send(out);
                });
                (ok, finish, deferred)
            })
        });
        queue
            .send(job)
            .await
            .map_err(|_| AppError::Internal("the database writer has stopped".into()))?;
        rx.await.map_err(|_| {
            AppError::Internal("the database writer could not run this write".into())
        })?
    }
}

/// Runs one job under its savepoint: its finisher and what it deferred, when its work stays.
/// A job that fails or panics is rolled back to its savepoint, when it opened one.
async fn run_job(
    txn: &sea_orm::DatabaseTransaction,
    job: Job,
) -> Option<(Finish, Option<Box<dyn Deferred>>)> {
    use futures_util::FutureExt;
    use sea_orm::ConnectionTrait;
    let sp = Savepoint::pending();
    let run = std::panic::AssertUnwindSafe(job(txn, &sp))
        .catch_unwind()
        .await;
    let undo = || async {
        match sp.is_open() {
            true => txn
                .execute_unprepared(&batch::rollback_sql())
                .await
                .map(|_| ()),
            false => Ok(()),
        }
    };
    let Ok((ok, finish, deferred)) = run else {
        tracing::error!("a write job panicked; its work was rolled back");
        let _ = undo().await;
        return None;
    };
    if ok {
        return Some((finish, deferred));
    }
    match undo().await {
        Ok(()) => Some((finish, None)),
        Err(e) => {
            finish(Err(e.to_string()));
            None
        }
    }
}

/// Adds `d` to the deferred additions of its type in `all`, or keeps it as the first.
fn merge_deferred(all: &mut Vec<Box<dyn Deferred>>, d: Box<dyn Deferred>) {
    let kind = d.kind();
    match all.iter_mut().find(|x| x.kind() == kind) {
        Some(x) => x.merge(d.into_any()),
        None => all.push(d),
    }
}

/// Writes a group's deferred additions, then commits; on any error nothing is committed.
async fn finish_group(
    txn: sea_orm::DatabaseTransaction,
    deferred: Vec<Box<dyn Deferred>>,
) -> Result<(), String> {
    for d in deferred {
        if let Err(e) = d.write(&txn).await {
            let _ = txn.rollback().await;
            return Err(format!("the group's shared rows were not written ({e})"));
        }
    }
    txn.commit().await.map_err(|e| e.to_string())
}

async fn run_group_writer(
    writer: DatabaseConnection,
    mut rx: tokio::sync::mpsc::Receiver<Job>,
    counters: GroupCounters,
) {
    while let Some(first) = rx.recv().await {
        let mut jobs = vec![first];
        while jobs.len() < GROUP_MAX {
            match rx.try_recv() {
                Ok(j) => jobs.push(j),
                Err(_) => break,
            }
        }
        // A job dropped unrun tells its caller so (its channel closes).
        let Ok(txn) = begin_write(&writer).await else {
            tracing::error!("the writer could not begin a transaction");
            continue;
        };
        let mut finished = Vec::with_capacity(jobs.len());
        let mut deferred = Vec::new();
        for job in jobs {
            if let Some((f, d)) = run_job(&txn, job).await {
                finished.push(f);
                if let Some(d) = d {
                    merge_deferred(&mut deferred, d);
                }
            }
        }
        let commit = finish_group(txn, deferred).await;
        counters.commits.inc();
        counters.jobs.inc_by(finished.len() as u64);
        for f in finished {
            f(commit.clone());
        }
    }
}

#[cfg(test)]
mod pool_tests {
    use super::*;

    #[test]
    fn a_checkout_pings_only_a_postgres_connection_left_idle() {
        let sqlite = base_options("sqlite:///tmp/x.db?mode=rwc");
        assert!(!sqlite.get_test_before_acquire());
        assert_eq!(sqlite.get_test_before_acquire_if_idle_for(), None);
        let pg = base_options("postgres://postgres@127.0.0.1:5432/test");
        assert!(!pg.get_test_before_acquire());
        assert_eq!(
            pg.get_test_before_acquire_if_idle_for(),
            Some(PING_AFTER_IDLE)
        );
    }

    /// The settings `.cargo/config.toml` compiles into the bundled SQLite: without QPSG
    /// every statement with a bound LIMIT (every `.one()`) is parsed and planned again on
    /// each execution; with memory statistics on, every allocation inside SQLite takes one
    /// process-wide mutex.
    #[tokio::test]
    async fn the_bundled_sqlite_keeps_plans_and_counts_no_memory() {
        use sea_orm::{ConnectionTrait, Statement};
        let db = connect("sqlite::memory:", None).await.unwrap();
        let rows = db
            .query_all_raw(Statement::from_string(
                sea_orm::DatabaseBackend::Sqlite,
                "SELECT compile_options FROM pragma_compile_options",
            ))
            .await
            .unwrap();
        let options: Vec<String> = rows
            .iter()
            .map(|r| r.try_get::<String>("", "compile_options").unwrap())
            .collect();
        for wanted in ["ENABLE_QPSG", "DEFAULT_MEMSTATUS=0"] {
            assert!(
                options.iter().any(|o| o == wanted),
                "{wanted} missing from {options:?}"
            );
        }
    }
}
