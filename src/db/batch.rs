//! Statements sent to the store together. On SQLite a batch is one multi-statement command to
//! the connection's thread: one hand-off from tokio and back, however many statements it
//! holds (sqlx binds the `?` of each statement in turn from the batch's values, and caches
//! the prepared batch by its text like any statement). Elsewhere its statements run one by
//! one, in order, on the same connection.
//!
//! On SQLite each statement is followed by a `SELECT changes()` of its own, which ends the
//! statement's rows and says how many rows it changed, so every statement's rows and count
//! come back apart.
use sea_orm::{ConnectionTrait, DatabaseBackend, DbErr, QueryResult, Statement, Value, Values};

/// The column of the row that ends each statement of a SQLite batch. The statement counter
/// counts a batch's statements by it.
pub const END: &str = "wi_batch_end";

/// The text that follows each statement of a SQLite batch.
fn end_of_statement() -> String {
    format!(";\nSELECT changes() AS {END};\n")
}

/// The statements a batch's text holds (1 for a text that is not a batch).
pub fn statements_in(sql: &str) -> usize {
    sql.matches(END).count().max(1)
}

/// What one statement of a batch gave back: the rows it returned and the rows it changed
/// (meaningful for INSERT, UPDATE and DELETE only).
#[derive(Default)]
pub struct Outcome {
    pub rows: Vec<QueryResult>,
    pub changed: u64,
}

/// Statements to run together, in order. A failure of any of them fails the batch; on SQLite
/// the statements before it have run, so a caller runs a batch under a savepoint it rolls back.
#[derive(Default)]
pub struct Batch {
    statements: Vec<Statement>,
}

impl Batch {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `s`; returns its place, the index of its [`Outcome`].
    pub fn push(&mut self, s: Statement) -> usize {
        self.statements.push(s);
        self.statements.len() - 1
    }

    /// Adds `s` when there is one; returns its place.
    pub fn push_some(&mut self, s: Option<Statement>) -> Option<usize> {
        s.map(|s| self.push(s))
    }

    /// Adds `other`'s statements after these; returns the place of its first.
    pub fn append(&mut self, other: Batch) -> usize {
        let at = self.statements.len();
        self.statements.extend(other.statements);
        at
    }

    /// Runs `first` (when there is one), then these statements, as one batch; the [`Outcome`]s
    /// of these.
    pub async fn run_after(
        self,
        first: Option<Statement>,
        db: &impl ConnectionTrait,
    ) -> Result<Vec<Outcome>, DbErr> {
        let Some(first) = first else {
            return self.run(db).await;
        };
        let mut all = Batch::new();
        all.push(first);
        all.append(self);
        let mut out = all.run(db).await?;
        out.remove(0);
        Ok(out)
    }

    /// Runs the statements; one [`Outcome`] for each, in order.
    pub async fn run(self, db: &impl ConnectionTrait) -> Result<Vec<Outcome>, DbErr> {
        match db.get_database_backend() {
            DatabaseBackend::Sqlite if self.statements.len() > 1 => self.run_as_one(db).await,
            _ => self.run_each(db).await,
        }
    }

    async fn run_each(self, db: &impl ConnectionTrait) -> Result<Vec<Outcome>, DbErr> {
        let mut out = Vec::with_capacity(self.statements.len());
        for s in self.statements {
            let returns = returns_rows(&s.sql);
            out.push(if returns {
                Outcome {
                    rows: db.query_all_raw(s).await?,
                    changed: 0,
                }
            } else {
                Outcome {
                    rows: Vec::new(),
                    changed: db.execute_raw(s).await?.rows_affected(),
                }
            });
        }
        Ok(out)
    }

    async fn run_as_one(self, db: &impl ConnectionTrait) -> Result<Vec<Outcome>, DbErr> {
        let n = self.statements.len();
        let mut sql = String::new();
        let mut values: Vec<Value> = Vec::new();
        for s in self.statements {
            sql.push_str(&s.sql);
            sql.push_str(&end_of_statement());
            values.extend(s.values.map(|v| v.0).unwrap_or_default());
        }
        let all = Statement {
            sql,
            values: Some(Values(values)),
            db_backend: DatabaseBackend::Sqlite,
        };
        let mut out = Vec::with_capacity(n);
        let mut current = Outcome::default();
        for row in db.query_all_raw(all).await? {
            if is_end(&row) {
                current.changed = row.try_get::<i64>("", END)?.max(0) as u64;
                out.push(std::mem::take(&mut current));
            } else {
                current.rows.push(row);
            }
        }
        if out.len() != n {
            return Err(DbErr::Custom(format!(
                "a batch of {n} statements gave {} results",
                out.len()
            )));
        }
        Ok(out)
    }
}

fn is_end(row: &QueryResult) -> bool {
    matches!(row.column_names().as_slice(), [c] if c == END)
}

/// Whether `sql` gives rows back: a query, or a write with RETURNING.
fn returns_rows(sql: &str) -> bool {
    let head = sql.trim_start();
    let starts = |w: &str| head.len() >= w.len() && head[..w.len()].eq_ignore_ascii_case(w);
    starts("SELECT") || starts("WITH") || sql.contains(" RETURNING ")
}

/// A write job's savepoint on the SQLite group writer, opened by the job's first command so
/// that it costs no hand-off of its own (see `GroupWriter`). Every job's savepoint has the same
/// name: the group writer rolls back to it only when this job opened it, and then the newest
/// savepoint of that name is this job's. A job that succeeds leaves it open: the group's commit
/// releases every savepoint at once. Not guarded against: a SAVEPOINT that itself fails (SQLite
/// fails one only on an I/O or memory error) counts as open, and the job's rollback would then
/// reach the job before it.
pub struct Savepoint {
    opened: std::sync::atomic::AtomicBool,
}

/// The name every job's savepoint has.
pub const SAVEPOINT: &str = "wi_job";

impl Savepoint {
    /// A savepoint still to be opened (on the SQLite group writer).
    pub fn pending() -> Self {
        Savepoint {
            opened: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// No savepoint to open: the job is a transaction of its own.
    pub fn none() -> Self {
        Savepoint {
            opened: std::sync::atomic::AtomicBool::new(true),
        }
    }

    /// The statement that opens it, when it is not open yet; from then it counts as open, so
    /// the caller must send the statement before any other.
    pub fn take_opening(&self) -> Option<Statement> {
        use std::sync::atomic::Ordering;
        let was = self.opened.swap(true, Ordering::SeqCst);
        (!was).then(|| Statement::from_string(DatabaseBackend::Sqlite, opening_sql()))
    }

    /// Opens it now, when it is not open yet.
    pub async fn open(&self, db: &impl ConnectionTrait) -> Result<(), DbErr> {
        if let Some(s) = self.take_opening() {
            db.execute_unprepared(&s.sql).await?;
        }
        Ok(())
    }

    /// Whether a statement has opened it (the job may have failed before any).
    pub fn is_open(&self) -> bool {
        self.opened.load(std::sync::atomic::Ordering::SeqCst)
    }
}

fn opening_sql() -> String {
    format!("SAVEPOINT {SAVEPOINT}")
}

/// Undoes what a job did since its savepoint, which stays open.
pub fn undo_sql() -> String {
    format!("ROLLBACK TO {SAVEPOINT}")
}

/// Undoes what a job did since its savepoint, and closes the savepoint.
pub fn rollback_sql() -> String {
    format!("ROLLBACK TO {SAVEPOINT}; RELEASE {SAVEPOINT}")
}
