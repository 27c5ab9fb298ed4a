//! The register's database, on either backend: SQLite (one file, the
//! embedded default) or PostgreSQL (shared by many councils).
//!
//! The register's queries are written once, in the SQL both backends
//! understand, and run through [`Tx`]. Parameters are PostgreSQL's `$1`,
//! `$2`, ...; for SQLite they are rewritten to `?1`, `?2`, ... (SQLite
//! would read `$1` as a named parameter numbered by where it first
//! appears, not by its number), so both bind the same slice. Values cross the boundary as [`Value`]
//! (integers, text, reals, null): times are Unix milliseconds, dates
//! `YYYY-MM-DD` text, structured content JSON text, so no query depends on
//! a type only one backend has. Table definitions differ only in how an
//! id column counts itself, which [`Backend::ddl`] fills in.
//!
//! Each backend keeps a small pool of connections. A write runs in a
//! transaction that takes the write lock at its start on SQLite
//! (`BEGIN IMMEDIATE`, so two writers never deadlock on an upgrade); on
//! PostgreSQL concurrent writers are ordered by the rows they lock (the
//! audit chain's head row is the point every change passes).

use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex};
use std::time::Duration;

use crate::Error;

type Result<T> = std::result::Result<T, Error>;

/// A value passed to or read from a query.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// SQL NULL.
    Null,
    /// A 64-bit integer.
    Int(i64),
    /// A double.
    Real(f64),
    /// Text.
    Text(String),
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Int(v)
    }
}
impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Text(v.to_string())
    }
}
impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Text(v)
    }
}
impl From<&String> for Value {
    fn from(v: &String) -> Self {
        Value::Text(v.clone())
    }
}
impl From<f64> for Value {
    fn from(v: f64) -> Self {
        Value::Real(v)
    }
}
impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Int(i64::from(v))
    }
}
impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}

/// One row of a result.
#[derive(Debug, Clone, PartialEq)]
pub struct Row(pub Vec<Value>);

impl Row {
    fn at(&self, i: usize) -> Result<&Value> {
        self.0.get(i).ok_or(Error::Corrupt { table: "query", what: "column count" })
    }

    /// Column `i` as an integer.
    pub fn int(&self, i: usize) -> Result<i64> {
        match self.at(i)? {
            Value::Int(v) => Ok(*v),
            _ => Err(Error::Corrupt { table: "query", what: "integer column" }),
        }
    }

    /// Column `i` as an integer or NULL.
    pub fn opt_int(&self, i: usize) -> Result<Option<i64>> {
        match self.at(i)? {
            Value::Null => Ok(None),
            _ => self.int(i).map(Some),
        }
    }

    /// Column `i` as a real number (an integer is widened).
    pub fn float(&self, i: usize) -> Result<f64> {
        match self.at(i)? {
            Value::Real(v) => Ok(*v),
            Value::Int(v) => Ok(*v as f64),
            _ => Err(Error::Corrupt { table: "query", what: "real column" }),
        }
    }

    /// Column `i` as text.
    pub fn text(&self, i: usize) -> Result<String> {
        match self.at(i)? {
            Value::Text(v) => Ok(v.clone()),
            _ => Err(Error::Corrupt { table: "query", what: "text column" }),
        }
    }

    /// Column `i` as text or NULL.
    pub fn opt_text(&self, i: usize) -> Result<Option<String>> {
        match self.at(i)? {
            Value::Null => Ok(None),
            _ => self.text(i).map(Some),
        }
    }
}

/// Which database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    /// An SQLite file.
    Sqlite(PathBuf),
    /// A PostgreSQL server, by connection URL, with the schema to use
    /// (`None`: the server's default search path).
    Postgres {
        /// `postgres://...`
        url: String,
        /// Schema every connection uses.
        schema: Option<String>,
    },
}

impl Backend {
    /// Reads a `--database` argument: a `postgres://` or `postgresql://`
    /// URL, or a path to an SQLite file (optionally `sqlite://path`).
    pub fn parse(s: &str) -> Backend {
        if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            Backend::Postgres { url: s.to_string(), schema: None }
        } else {
            Backend::Sqlite(PathBuf::from(s.strip_prefix("sqlite://").unwrap_or(s)))
        }
    }

    /// Whether this is PostgreSQL.
    pub fn is_postgres(&self) -> bool {
        matches!(self, Backend::Postgres { .. })
    }

    /// Fills the backend's spelling into a table definition: `{id}` is an
    /// integer primary key that counts itself.
    pub fn ddl(&self, sql: &str) -> String {
        let id = match self {
            Backend::Sqlite(_) => "INTEGER PRIMARY KEY AUTOINCREMENT",
            Backend::Postgres { .. } => "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY",
        };
        sql.replace("{id}", id)
    }

    /// Where the backend is, without a password (for messages and logs).
    pub fn describe(&self) -> String {
        match self {
            Backend::Sqlite(p) => format!("SQLite file {}", p.display()),
            Backend::Postgres { url, .. } => {
                let host = url.rsplit('@').next().unwrap_or(url);
                format!("PostgreSQL at {}", host.trim_start_matches("postgres://").trim_start_matches("postgresql://"))
            }
        }
    }
}

/// A PostgreSQL connection with its prepared statements: each statement
/// is parsed and planned once per connection, as SQLite's
/// `prepare_cached` does, not at every call.
struct PgConn {
    client: postgres::Client,
    statements: std::collections::HashMap<String, postgres::Statement>,
}

enum Conn {
    Sqlite(rusqlite::Connection),
    Pg(Box<PgConn>),
}

/// Past this size (bytes) the SQLite write-ahead log is truncated by the
/// pool's watching thread ([`WalGuard::Watch`]).
pub const WAL_LIMIT: u64 = 256 * 1024 * 1024;

/// Whether a pool watches the size of SQLite's write-ahead log.
///
/// SQLite copies the log back into the database file as it goes (the
/// commit that takes the log past 1,000 pages runs a passive checkpoint),
/// but starts the log again from its beginning only at a moment when no
/// reader is using it, which a server with a steady stream of audited
/// reads never has: the log then grows without end (gigabytes in a
/// national load) and every page a read looks up searches a longer index
/// of it. A watching pool has a thread that looks at the log's size every
/// second and, past [`WAL_LIMIT`], runs a checkpoint that waits for the
/// readers of the moment and truncates it, holding writers up while it
/// runs (a few hundred milliseconds at this size). Running every passive
/// checkpoint on that thread instead of in commits was measured and was
/// worse: the log then reached the limit several times a second under
/// load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WalGuard {
    /// This pool's thread watches the log.
    Watch,
    /// Another pool on the same file watches it.
    Elsewhere,
}

/// The thread watching the write-ahead log, and how to stop it.
struct Checkpointer {
    stop: std::sync::Arc<(Mutex<bool>, Condvar)>,
    thread: Option<std::thread::JoinHandle<()>>,
}

fn checkpoint_loop(path: PathBuf, stop: std::sync::Arc<(Mutex<bool>, Condvar)>) {
    let conn = match rusqlite::Connection::open(&path) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "could not open the database to watch its write-ahead log");
            return;
        }
    };
    // Truncating waits for the readers of the moment, each well under a
    // millisecond: SQLite's own busy handler would sleep up to 100 ms
    // between looks, holding every writer up all that time, so this one
    // looks again every millisecond, for up to ten seconds.
    let _ = conn.busy_handler(Some(|n: i32| {
        std::thread::sleep(Duration::from_millis(1));
        n < 10_000
    }));
    let mut wal = path.into_os_string();
    wal.push("-wal");
    let (lock, wake) = &*stop;
    loop {
        let Ok(stopped) = lock.lock() else { return };
        let Ok((stopped, _)) = wake.wait_timeout_while(stopped, Duration::from_secs(1), |s| !*s) else {
            return;
        };
        if *stopped {
            return;
        }
        drop(stopped);
        if !std::fs::metadata(&wal).is_ok_and(|m| m.len() > WAL_LIMIT) {
            continue;
        }
        let started = std::time::Instant::now();
        match conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get::<_, i64>(0)) {
            Ok(0) => tracing::info!(ms = started.elapsed().as_millis() as u64, "write-ahead log truncated"),
            Ok(_) => tracing::debug!("write-ahead log truncation could not finish: the database was busy"),
            Err(e) => tracing::warn!(error = %e, "write-ahead log truncation failed"),
        }
    }
}

/// A pool of connections to one database.
pub struct Db {
    backend: Backend,
    checkpointer: Mutex<Option<Checkpointer>>,
    idle: Mutex<Vec<Conn>>,
    open: Mutex<usize>,
    freed: Condvar,
    max: usize,
}

impl Drop for Db {
    fn drop(&mut self) {
        // A PostgreSQL client closes by blocking on a runtime of its own,
        // which panics on a thread that drives an async runtime (a server
        // dropping its last handle as it shuts down): close them on a
        // thread of their own.
        let idle = std::mem::take(self.idle.get_mut().unwrap_or_else(std::sync::PoisonError::into_inner));
        if idle.iter().any(|c| matches!(c, Conn::Pg(_))) {
            let _ = std::thread::spawn(move || drop(idle)).join();
        }
        let Some(mut c) = self.checkpointer.get_mut().ok().and_then(Option::take) else { return };
        if let Ok(mut stopped) = c.stop.0.lock() {
            *stopped = true;
        }
        c.stop.1.notify_all();
        if let Some(t) = c.thread.take() {
            let _ = t.join();
        }
    }
}

/// A transaction. Dropped without [`Db::write`] or [`Db::read`] seeing
/// `Ok`, it rolls back.
pub enum Tx<'c> {
    /// On SQLite.
    Sqlite(rusqlite::Transaction<'c>),
    /// On PostgreSQL, with the connection's prepared statements.
    Pg(postgres::Transaction<'c>, &'c mut std::collections::HashMap<String, postgres::Statement>),
}

struct SqliteParam<'a>(&'a Value);

/// `$1` becomes `?1`: SQLite numbers `?NNN` by its digits. The register's
/// SQL has no `$` inside a string literal.
fn sqlite_sql(sql: &str) -> std::borrow::Cow<'_, str> {
    if sql.contains('$') { sql.replace('$', "?").into() } else { sql.into() }
}

impl rusqlite::ToSql for SqliteParam<'_> {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(ToSqlOutput::Borrowed(match self.0 {
            Value::Null => ValueRef::Null,
            Value::Int(v) => ValueRef::Integer(*v),
            Value::Real(v) => ValueRef::Real(*v),
            Value::Text(v) => ValueRef::Text(v.as_bytes()),
        }))
    }
}

impl postgres::types::ToSql for Value {
    fn to_sql(
        &self,
        ty: &postgres::types::Type,
        out: &mut postgres::types::private::BytesMut,
    ) -> std::result::Result<postgres::types::IsNull, Box<dyn std::error::Error + Sync + Send>> {
        use postgres::types::Type;
        match self {
            Value::Null => Ok(postgres::types::IsNull::Yes),
            Value::Int(v) if *ty == Type::INT4 => i32::try_from(*v)?.to_sql(ty, out),
            Value::Int(v) if *ty == Type::INT2 => i16::try_from(*v)?.to_sql(ty, out),
            Value::Int(v) if *ty == Type::BOOL => (*v != 0).to_sql(ty, out),
            Value::Int(v) => v.to_sql(ty, out),
            Value::Real(v) => v.to_sql(ty, out),
            Value::Text(v) => v.as_str().to_sql(ty, out),
        }
    }

    fn accepts(ty: &postgres::types::Type) -> bool {
        use postgres::types::Type;
        [Type::INT8, Type::INT4, Type::INT2, Type::BOOL, Type::FLOAT8, Type::TEXT, Type::VARCHAR, Type::BPCHAR]
            .contains(ty)
    }

    postgres::types::to_sql_checked!();
}

fn pg_value(row: &postgres::Row, i: usize) -> Result<Value> {
    use postgres::types::Type;
    let ty = row.columns().get(i).map(|c| c.type_().clone()).unwrap_or(Type::TEXT);
    Ok(match ty {
        Type::INT8 => row.try_get::<_, Option<i64>>(i)?.map_or(Value::Null, Value::Int),
        Type::INT4 => row.try_get::<_, Option<i32>>(i)?.map_or(Value::Null, |v| Value::Int(v.into())),
        Type::INT2 => row.try_get::<_, Option<i16>>(i)?.map_or(Value::Null, |v| Value::Int(v.into())),
        Type::BOOL => row.try_get::<_, Option<bool>>(i)?.map_or(Value::Null, |v| Value::Int(v.into())),
        Type::FLOAT8 => row.try_get::<_, Option<f64>>(i)?.map_or(Value::Null, Value::Real),
        Type::FLOAT4 => row.try_get::<_, Option<f32>>(i)?.map_or(Value::Null, |v| Value::Real(v.into())),
        _ => row.try_get::<_, Option<String>>(i)?.map_or(Value::Null, Value::Text),
    })
}

fn sqlite_value(v: rusqlite::types::ValueRef<'_>) -> Value {
    use rusqlite::types::ValueRef;
    match v {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => Value::Int(i),
        ValueRef::Real(r) => Value::Real(r),
        ValueRef::Text(t) | ValueRef::Blob(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
    }
}

impl Tx<'_> {
    /// Runs a statement; returns the rows it changed.
    pub fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64> {
        match self {
            Tx::Sqlite(tx) => {
                let mut st = tx.prepare_cached(&sqlite_sql(sql))?;
                let ps: Vec<SqliteParam<'_>> = params.iter().map(SqliteParam).collect();
                Ok(st.execute(rusqlite::params_from_iter(ps.iter()))? as u64)
            }
            Tx::Pg(tx, cache) => {
                let st = pg_statement(tx, cache, sql)?;
                let ps: Vec<&(dyn postgres::types::ToSql + Sync)> =
                    params.iter().map(|p| p as &(dyn postgres::types::ToSql + Sync)).collect();
                Ok(tx.execute(&st, &ps)?)
            }
        }
    }

    /// Runs a query; returns every row.
    pub fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>> {
        match self {
            Tx::Sqlite(tx) => {
                let mut st = tx.prepare_cached(&sqlite_sql(sql))?;
                let n = st.column_count();
                let ps: Vec<SqliteParam<'_>> = params.iter().map(SqliteParam).collect();
                let mut rows = st.query(rusqlite::params_from_iter(ps.iter()))?;
                let mut out = Vec::new();
                while let Some(r) = rows.next()? {
                    let mut vals = Vec::with_capacity(n);
                    for i in 0..n {
                        vals.push(sqlite_value(r.get_ref(i)?));
                    }
                    out.push(Row(vals));
                }
                Ok(out)
            }
            Tx::Pg(tx, cache) => {
                let st = pg_statement(tx, cache, sql)?;
                let ps: Vec<&(dyn postgres::types::ToSql + Sync)> =
                    params.iter().map(|p| p as &(dyn postgres::types::ToSql + Sync)).collect();
                let rows = tx.query(&st, &ps)?;
                rows.iter().map(|r| (0..r.len()).map(|i| pg_value(r, i)).collect::<Result<Vec<_>>>().map(Row)).collect()
            }
        }
    }

    /// Runs a query that returns at most one row.
    pub fn query_opt(&mut self, sql: &str, params: &[Value]) -> Result<Option<Row>> {
        Ok(self.query(sql, params)?.into_iter().next())
    }

    /// Runs a query that returns exactly one row.
    pub fn query_one(&mut self, sql: &str, params: &[Value]) -> Result<Row> {
        self.query_opt(sql, params)?.ok_or(Error::Corrupt { table: "query", what: "row expected" })
    }

    /// Runs several statements with no parameters (migrations).
    pub fn batch(&mut self, sql: &str) -> Result<()> {
        match self {
            Tx::Sqlite(tx) => Ok(tx.execute_batch(sql)?),
            Tx::Pg(tx, cache) => {
                // A migration may change what a prepared statement reads.
                cache.clear();
                Ok(tx.batch_execute(sql)?)
            }
        }
    }

    /// Whether this is PostgreSQL.
    pub fn is_postgres(&self) -> bool {
        matches!(self, Tx::Pg(..))
    }
}

/// The statement for `sql` on this connection, prepared once. The cache
/// is bounded: statements built from a varying number of terms (searches)
/// would otherwise grow it without end.
fn pg_statement(
    tx: &mut postgres::Transaction<'_>,
    cache: &mut std::collections::HashMap<String, postgres::Statement>,
    sql: &str,
) -> Result<postgres::Statement> {
    if let Some(st) = cache.get(sql) {
        return Ok(st.clone());
    }
    let st = tx.prepare(sql)?;
    if cache.len() >= 256 {
        cache.clear();
    }
    cache.insert(sql.to_string(), st.clone());
    Ok(st)
}

impl Db {
    /// Connects (creating an SQLite file, private to its owner, if needed).
    /// Runs no migrations: see [`crate::register::migrate`].
    pub fn open(backend: Backend) -> Result<Db> {
        let max = match backend {
            Backend::Sqlite(_) => 8,
            Backend::Postgres { .. } => 16,
        };
        Db::open_sized(backend, max, WalGuard::Watch)
    }

    /// Connects with a pool of at most `max` connections (at least one;
    /// one for a thread that must never wait behind the pool's other
    /// users, the audit writer), watching SQLite's write-ahead log or not
    /// (PostgreSQL ignores it).
    pub fn open_sized(backend: Backend, max: usize, guard: WalGuard) -> Result<Db> {
        let max = max.max(1);
        let db = Db {
            backend,
            checkpointer: Mutex::new(None),
            idle: Mutex::new(Vec::new()),
            open: Mutex::new(0),
            freed: Condvar::new(),
            max,
        };
        // Connect once now, so a wrong path or an absent server is an error
        // at start-up rather than at the first request.
        let conn = db.connect()?;
        db.give_back(conn);
        *db.open.lock().map_err(|_| Error::Poisoned)? = 1;
        if let (Backend::Sqlite(path), WalGuard::Watch) = (&db.backend, guard) {
            let stop = std::sync::Arc::new((Mutex::new(false), Condvar::new()));
            let (path, s) = (path.clone(), stop.clone());
            let thread = std::thread::Builder::new()
                .name("sqlite-wal-guard".into())
                .spawn(move || checkpoint_loop(path, s))
                .map_err(Error::Thread)?;
            *db.checkpointer.lock().map_err(|_| Error::Poisoned)? = Some(Checkpointer { stop, thread: Some(thread) });
        }
        Ok(db)
    }

    /// The backend.
    pub fn backend(&self) -> &Backend {
        &self.backend
    }

    fn connect(&self) -> Result<Conn> {
        match &self.backend {
            Backend::Sqlite(path) => {
                if !path.exists() {
                    let _ = crate::create_private(path);
                }
                let conn = rusqlite::Connection::open(path)?;
                crate::owner_only(path)?;
                conn.busy_timeout(Duration::from_secs(10))?;
                // No memory map: a connection that begins a read after any
                // other connection's commit (every request, on a register
                // whose reads are audited) unmaps its whole map and faults
                // each page back in, which costs more than the pread() it
                // saves. For the same reason a connection's page cache
                // rarely outlives a transaction, so it is left small.
                conn.execute_batch(
                    "PRAGMA journal_mode = WAL;
                     PRAGMA synchronous = NORMAL;
                     PRAGMA foreign_keys = ON;
                     PRAGMA cache_size = -8192;",
                )?;
                conn.set_prepared_statement_cache_capacity(64);
                Ok(Conn::Sqlite(conn))
            }
            Backend::Postgres { url, schema } => {
                let mut client = postgres::Client::connect(url, postgres::NoTls)?;
                if let Some(s) = schema {
                    let quoted = s.replace('"', "\"\"");
                    client.batch_execute(&format!(
                        "CREATE SCHEMA IF NOT EXISTS \"{quoted}\"; SET search_path TO \"{quoted}\";"
                    ))?;
                }
                Ok(Conn::Pg(Box::new(PgConn { client, statements: std::collections::HashMap::new() })))
            }
        }
    }

    fn take(&self) -> Result<Conn> {
        let mut idle = self.idle.lock().map_err(|_| Error::Poisoned)?;
        loop {
            if let Some(c) = idle.pop() {
                return Ok(c);
            }
            let mut open = self.open.lock().map_err(|_| Error::Poisoned)?;
            if *open < self.max {
                *open += 1;
                drop(open);
                drop(idle);
                return self.connect().inspect_err(|_| {
                    if let Ok(mut o) = self.open.lock() {
                        *o -= 1;
                    }
                });
            }
            drop(open);
            idle = self.freed.wait(idle).map_err(|_| Error::Poisoned)?;
        }
    }

    fn give_back(&self, conn: Conn) {
        if let Ok(mut idle) = self.idle.lock() {
            idle.push(conn);
        }
        self.freed.notify_one();
    }

    /// A connection lost mid-transaction (a PostgreSQL restart) is not put
    /// back: the pool opens a new one next time.
    fn discard(&self) {
        if let Ok(mut o) = self.open.lock() {
            *o = o.saturating_sub(1);
        }
        self.freed.notify_one();
    }

    fn run<T>(&self, write: bool, f: impl FnOnce(&mut Tx<'_>) -> Result<T>) -> Result<T> {
        let mut conn = self.take()?;
        let result = match &mut conn {
            Conn::Sqlite(c) => {
                let behaviour = if write {
                    rusqlite::TransactionBehavior::Immediate
                } else {
                    rusqlite::TransactionBehavior::Deferred
                };
                match c.transaction_with_behavior(behaviour) {
                    Ok(tx) => {
                        let mut tx = Tx::Sqlite(tx);
                        match f(&mut tx) {
                            Ok(v) => match tx {
                                Tx::Sqlite(t) => t.commit().map(|()| v).map_err(Error::from),
                                Tx::Pg(..) => Err(Error::Poisoned),
                            },
                            Err(e) => Err(e),
                        }
                    }
                    Err(e) => Err(e.into()),
                }
            }
            Conn::Pg(c) => {
                let PgConn { client, statements } = &mut **c;
                let started = client.build_transaction().read_only(!write).start();
                match started {
                    Ok(tx) => {
                        let mut tx = Tx::Pg(tx, statements);
                        match f(&mut tx) {
                            Ok(v) => match tx {
                                Tx::Pg(t, _) => t.commit().map(|()| v).map_err(Error::from),
                                Tx::Sqlite(_) => Err(Error::Poisoned),
                            },
                            Err(e) => Err(e),
                        }
                    }
                    Err(e) => Err(e.into()),
                }
            }
        };
        let broken = match &conn {
            Conn::Pg(c) => c.client.is_closed(),
            Conn::Sqlite(_) => false,
        };
        if broken {
            self.discard();
        } else {
            self.give_back(conn);
        }
        result
    }

    /// Runs `f` in a write transaction, committed when it returns `Ok`.
    pub fn write<T>(&self, f: impl FnOnce(&mut Tx<'_>) -> Result<T>) -> Result<T> {
        self.run(true, f)
    }

    /// Runs `f` in a read-only transaction.
    pub fn read<T>(&self, f: impl FnOnce(&mut Tx<'_>) -> Result<T>) -> Result<T> {
        self.run(false, f)
    }

    /// Drops the schema this pool was opened on (PostgreSQL tests).
    pub fn drop_schema(&self) -> Result<()> {
        if let Backend::Postgres { schema: Some(s), .. } = &self.backend {
            let sql = format!("DROP SCHEMA IF EXISTS \"{}\" CASCADE", s.replace('"', "\"\""));
            self.write(|tx| tx.batch(&sql))?;
        }
        Ok(())
    }

    /// The SQLite file, if that is the backend.
    pub fn sqlite_path(&self) -> Option<&Path> {
        match &self.backend {
            Backend::Sqlite(p) => Some(p),
            Backend::Postgres { .. } => None,
        }
    }
}
