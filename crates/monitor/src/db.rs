//! The monitor's database: SQLite (default) or PostgreSQL through the same code (`sqlx::Any`).
//!
//! One SQL dialect serves both backends: `$n` placeholders (SQLite accepts them too), `BIGINT`
//! columns for timestamps (UTC microseconds) and flags, `RETURNING` for new ids. Only the
//! migrations differ (id column types), and they are embedded in the binary.
//!
//! SQLite runs in WAL mode with `synchronous = FULL`: every commit is fsynced before the monitor
//! answers 2xx, so an accepted report survives a power loss. The writer batches concurrent
//! uploads into one transaction on its own connection, so the fsync cost is shared (see
//! `writer.rs`). That connection does not checkpoint the WAL on its commits (except as a
//! backstop when the WAL passes 64 MiB): a background task runs a passive checkpoint on a pooled
//! connection twice a second when something was written, off the commit path.

use std::borrow::Cow;
use std::str::FromStr;
use std::time::Duration;

use anyhow::{Context, bail};
use jiff::Timestamp;
use jiff::civil::DateTime;
use jiff::tz::Offset;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::{AnyConnection, AnyPool, AssertSqlSafe, Connection, Executor, Row, SqlSafeStr};

/// Which server the pool talks to (the dialects differ only in migrations).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A local SQLite file.
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

/// A pooled connection to the monitor database.
#[derive(Debug, Clone)]
pub struct Db {
    /// The pool; `pub(crate)` so the bootstrap import can open transactions.
    pub(crate) pool: AnyPool,
    backend: Backend,
    options: AnyConnectOptions,
}

/// The newest stored result of a testcase, as read at start-up to fill the result cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResultRecord {
    /// Subject the report was for.
    pub subject: String,
    /// Scope uuid of the report.
    pub scope: String,
    /// Testcase id.
    pub testcase: String,
    /// -1, 0 or 1.
    pub result: i64,
    /// When the check ran (UTC).
    pub checked_at: DateTime,
    /// Run uuid of the report.
    pub report: String,
}

const SQLITE_MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "init",
        include_str!("../migrations/sqlite/0001_init.sql"),
    ),
    (
        2,
        "lean writes",
        include_str!("../migrations/sqlite/0002_lean_writes.sql"),
    ),
];
const POSTGRES_MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "init",
        include_str!("../migrations/postgres/0001_init.sql"),
    ),
    (
        2,
        "lean writes",
        include_str!("../migrations/postgres/0002_lean_writes.sql"),
    ),
];

/// The schema version this build migrates to.
pub const SCHEMA_VERSION: i64 = 2;

/// Pragmas of every SQLite connection (the writer's adds its checkpoint setting).
const SQLITE_PRAGMAS: &str = "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; \
                              PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000;";

impl Db {
    /// Connects to `url` (`sqlite://FILE` creates the file; `postgres://…`) and migrates the schema.
    pub async fn connect(url: &str) -> anyhow::Result<Db> {
        Db::connect_at(url, SCHEMA_VERSION).await
    }

    /// Like [`Db::connect`] but migrates only up to schema `version` (for migration tests).
    ///
    /// Every error message is passed through [`redact_url`]'s rules: no password of `url`
    /// appears in it, whichever layer wrote the message.
    pub async fn connect_at(url: &str, version: i64) -> anyhow::Result<Db> {
        Db::connect_unredacted(url, version)
            .await
            .map_err(|err| anyhow::anyhow!(redact_secrets(&format!("{err:#}"), url)))
    }

    async fn connect_unredacted(url: &str, version: i64) -> anyhow::Result<Db> {
        sqlx::any::install_default_drivers();
        let (backend, url) = if let Some(rest) = url.strip_prefix("sqlite:") {
            let mut url = format!("sqlite:{rest}");
            if !url.contains("mode=") {
                url.push_str(if url.contains('?') {
                    "&mode=rwc"
                } else {
                    "?mode=rwc"
                });
            }
            (Backend::Sqlite, url)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            (Backend::Postgres, url.to_string())
        } else {
            bail!(
                "unsupported database URL {:?}: use sqlite://FILE or postgres://USER@HOST/DB",
                redact_url(url)
            );
        };
        let options = AnyConnectOptions::from_str(&url)
            .with_context(|| format!("invalid database URL {:?}", redact_url(&url)))?;
        if backend == Backend::Sqlite {
            private_sqlite_files(&url)?;
        }
        let mut pool = AnyPoolOptions::new()
            .max_connections(if backend == Backend::Sqlite { 8 } else { 16 })
            .acquire_timeout(Duration::from_secs(30));
        if backend == Backend::Sqlite {
            // A local file cannot drop the connection under us: skip the ping per acquire.
            pool = pool
                .test_before_acquire(false)
                .after_connect(|conn, _meta| {
                    Box::pin(async move {
                        conn.execute(SQLITE_PRAGMAS).await?;
                        Ok(())
                    })
                });
        }
        // One direct connection first: a refused or failed login is reported at once with its
        // cause, where the pool would retry until its acquire timeout and say only "timed out".
        AnyConnection::connect_with(&options)
            .await
            .with_context(|| format!("cannot open the database {}", redact_url(&url)))?
            .close()
            .await
            .ok();
        let pool = pool
            .connect_with(options.clone())
            .await
            .with_context(|| format!("cannot open the database {}", redact_url(&url)))?;
        let db = Db {
            pool,
            backend,
            options,
        };
        db.migrate(version).await?;
        Ok(db)
    }

    /// A connection of its own for the writer (not from the pool). SQLite: the same pragmas,
    /// and WAL checkpoints left to [`Db::spawn_checkpointer`] up to a 64 MiB backstop.
    pub async fn writer_connection(&self) -> anyhow::Result<AnyConnection> {
        let mut conn = AnyConnection::connect_with(&self.options)
            .await
            .context("cannot open the writer's database connection")?;
        if self.backend == Backend::Sqlite {
            conn.execute(SQLITE_PRAGMAS).await?;
            conn.execute("PRAGMA wal_autocheckpoint = 16384;").await?;
        }
        Ok(conn)
    }

    /// SQLite: checkpoints the WAL in the background (passive, so it never blocks the writer)
    /// twice a second whenever the writer's commit counter moved since the last run; ends when
    /// the writer is gone. A no-op for PostgreSQL.
    pub fn spawn_checkpointer(&self, commits: std::sync::Weak<std::sync::atomic::AtomicU64>) {
        if self.backend != Backend::Sqlite {
            return;
        }
        let pool = self.pool.clone();
        let count = move || {
            commits
                .upgrade()
                .map(|c| c.load(std::sync::atomic::Ordering::Relaxed))
        };
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(500));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let Some(mut seen) = count() else { return };
            loop {
                tick.tick().await;
                let Some(now) = count() else { return };
                if now == seen {
                    continue;
                }
                seen = now;
                if let Err(err) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
                    .execute(&pool)
                    .await
                {
                    tracing::warn!(error = %err, "WAL checkpoint failed (will retry)");
                }
            }
        });
    }

    /// The pool, for tests that inspect or prepare the schema directly.
    #[doc(hidden)]
    pub fn pool_for_tests(&self) -> &AnyPool {
        &self.pool
    }

    /// Which backend this is.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    async fn migrate(&self, version: i64) -> anyhow::Result<()> {
        let list = match self.backend {
            Backend::Sqlite => SQLITE_MIGRATIONS,
            Backend::Postgres => POSTGRES_MIGRATIONS,
        };
        let migrations: Vec<Migration> = list
            .iter()
            .filter(|(v, _, _)| *v <= version)
            .map(|(version, name, sql)| {
                Migration::new(
                    *version,
                    Cow::Borrowed(*name),
                    MigrationType::Simple,
                    AssertSqlSafe(*sql).into_sql_str(),
                    false,
                )
            })
            .collect();
        let migrator = Migrator {
            migrations: Cow::Owned(migrations),
            ..Migrator::DEFAULT
        };
        migrator
            .run(&self.pool)
            .await
            .context("cannot create or migrate the monitor schema")?;
        Ok(())
    }

    /// Cheap liveness probe for `/healthz`.
    pub async fn ping(&self) -> anyhow::Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Newest result per (subject, scope, testcase) among results checked at or after `since`,
    /// computed by the database and handed to `each` row by row as it streams in, so start-up
    /// holds one row per key, never every stored result. Of two results checked at the same
    /// time the later stored one wins, as in the running cache (`latest.rs`).
    pub async fn latest_results(
        &self,
        since: DateTime,
        mut each: impl FnMut(ResultRecord),
    ) -> anyhow::Result<()> {
        use futures::TryStreamExt as _;
        let mut rows = sqlx::query(
            "SELECT subject, scopeuuid, testcase, result, checked_at, reportuuid FROM ( \
               SELECT r.subject, r.scopeuuid, r.testcase, r.result, r.checked_at, \
                 p.reportuuid, ROW_NUMBER() OVER (PARTITION BY r.subject, r.scopeuuid, \
                 r.testcase ORDER BY r.checked_at DESC, r.resultid DESC) AS newest \
               FROM result2 r JOIN report p ON p.reportid = r.reportid \
               WHERE r.checked_at >= $1 \
             ) ranked WHERE newest = 1",
        )
        .bind(to_micros(since))
        .fetch(&self.pool);
        while let Some(row) = rows
            .try_next()
            .await
            .context("cannot read stored results")?
        {
            each(ResultRecord {
                subject: row.try_get(0)?,
                scope: row.try_get(1)?,
                testcase: row.try_get(2)?,
                result: row.try_get(3)?,
                checked_at: from_micros(row.try_get(4)?),
                report: row.try_get(5)?,
            });
        }
        Ok(())
    }

    /// Stored reports, newest first; `subject = None` lists every subject's.
    pub async fn list_reports(
        &self,
        subject: Option<&str>,
        limit: i64,
        skip: i64,
    ) -> anyhow::Result<Vec<String>> {
        if subject.is_some_and(|s| s.contains('\0')) {
            return Ok(Vec::new());
        }
        let rows = match subject {
            Some(subject) => {
                sqlx::query(
                    "SELECT data FROM report WHERE subject = $1 \
                     ORDER BY checked_at DESC, reportid DESC LIMIT $2 OFFSET $3",
                )
                .bind(subject.to_string())
                .bind(limit)
                .bind(skip)
                .fetch_all(&self.pool)
                .await
            }
            None => {
                sqlx::query(
                    "SELECT data FROM report ORDER BY checked_at DESC, reportid DESC \
                     LIMIT $1 OFFSET $2",
                )
                .bind(limit)
                .bind(skip)
                .fetch_all(&self.pool)
                .await
            }
        }
        .context("cannot list reports")?;
        rows.iter()
            .map(|r| r.try_get::<String, _>(0).map_err(Into::into))
            .collect()
    }

    /// One stored report: its subject and JSON text.
    pub async fn get_report(&self, uuid: &str) -> anyhow::Result<Option<(String, String)>> {
        // No stored value contains NUL (uploads refuse it), and PostgreSQL rejects it in text.
        if uuid.contains('\0') {
            return Ok(None);
        }
        let row = sqlx::query("SELECT subject, data FROM report WHERE reportuuid = $1")
            .bind(uuid.to_string())
            .fetch_optional(&self.pool)
            .await
            .context("cannot read a report")?;
        row.map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).transpose()
    }

    /// A subject's report history, newest first: (uuid, scope, checked_at, received_at, pass, abort, fail).
    pub async fn history(&self, subject: &str, limit: i64) -> anyhow::Result<Vec<HistoryRow>> {
        if subject.contains('\0') {
            return Ok(Vec::new());
        }
        let rows = sqlx::query(
            "SELECT p.reportuuid, p.scopeuuid, p.checked_at, p.received_at, \
             SUM(CASE WHEN r.result = 1 THEN 1 ELSE 0 END), \
             SUM(CASE WHEN r.result = 0 THEN 1 ELSE 0 END), \
             SUM(CASE WHEN r.result = -1 THEN 1 ELSE 0 END) \
             FROM report p LEFT JOIN result2 r ON r.reportid = p.reportid \
             WHERE p.subject = $1 \
             GROUP BY p.reportid, p.reportuuid, p.scopeuuid, p.checked_at, p.received_at \
             ORDER BY p.checked_at DESC LIMIT $2",
        )
        .bind(subject.to_string())
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .context("cannot read the report history")?;
        rows.iter()
            .map(|r| {
                Ok(HistoryRow {
                    report: r.try_get(0)?,
                    scope: r.try_get(1)?,
                    checked_at: from_micros(r.try_get(2)?),
                    received_at: from_micros(r.try_get(3)?),
                    pass: r.try_get::<Option<i64>, _>(4)?.unwrap_or(0),
                    abort: r.try_get::<Option<i64>, _>(5)?.unwrap_or(0),
                    fail: r.try_get::<Option<i64>, _>(6)?.unwrap_or(0),
                })
            })
            .collect()
    }

    /// Raw result rows checked after `since`, newest first (`GET /results`).
    pub async fn results_since(
        &self,
        since: DateTime,
        approved: Option<bool>,
        limit: i64,
        skip: i64,
    ) -> anyhow::Result<Vec<RawResult>> {
        let approval_filter = match approved {
            None => "",
            Some(true) => " AND r.approval = 1",
            Some(false) => " AND r.approval = 0",
        };
        let sql = format!(
            "SELECT p.reportuuid, r.subject, r.checked_at, r.scopeuuid, r.version, r.testcase, \
             r.result, r.approval FROM result2 r JOIN report p ON p.reportid = r.reportid \
             WHERE r.checked_at > $1{approval_filter} \
             ORDER BY r.checked_at DESC, r.resultid DESC LIMIT $2 OFFSET $3"
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(to_micros(since))
            .bind(limit)
            .bind(skip)
            .fetch_all(&self.pool)
            .await
            .context("cannot read results")?;
        rows.iter()
            .map(|r| {
                Ok(RawResult {
                    reportuuid: r.try_get(0)?,
                    subject: r.try_get(1)?,
                    checked_at: from_micros(r.try_get(2)?),
                    scopeuuid: r.try_get(3)?,
                    version: r.try_get(4)?,
                    check: r.try_get(5)?,
                    result: r.try_get(6)?,
                    approval: r.try_get::<i64, _>(7)? != 0,
                })
            })
            .collect()
    }

    /// Sets approval flags; every item must match a stored row, else nothing changes and the
    /// index of the first unmatched item is returned.
    pub async fn set_approvals(&self, items: &[ApprovalItem]) -> anyhow::Result<Option<usize>> {
        let texts = |i: &ApprovalItem| {
            [&i.reportuuid, &i.scopeuuid, &i.version, &i.check]
                .iter()
                .any(|s| s.contains('\0'))
        };
        if let Some(index) = items.iter().position(texts) {
            return Ok(Some(index));
        }
        let mut tx = self.pool.begin().await?;
        for (index, item) in items.iter().enumerate() {
            let done = sqlx::query(
                "UPDATE result2 SET approval = $1 WHERE scopeuuid = $2 AND version = $3 \
                 AND testcase = $4 AND reportid = \
                 (SELECT reportid FROM report WHERE reportuuid = $5)",
            )
            .bind(i64::from(item.approval))
            .bind(item.scopeuuid.clone())
            .bind(item.version.clone())
            .bind(item.check.clone())
            .bind(item.reportuuid.clone())
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 0 {
                tx.rollback().await?;
                return Ok(Some(index));
            }
        }
        tx.commit().await?;
        Ok(None)
    }
}

/// One line of a subject's JSON history.
#[derive(Debug, Clone, serde::Serialize)]
pub struct HistoryRow {
    /// Run uuid.
    pub report: String,
    /// Scope uuid.
    pub scope: String,
    /// When the check ran (UTC, clamped to receipt).
    pub checked_at: DateTime,
    /// When the monitor received it (UTC).
    pub received_at: DateTime,
    /// Number of PASS results.
    pub pass: i64,
    /// Number of ABORT results.
    pub abort: i64,
    /// Number of FAIL results.
    pub fail: i64,
}

/// One raw result row (`GET /results`), same keys as the SCS monitor.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RawResult {
    /// Run uuid.
    pub reportuuid: String,
    /// Subject.
    pub subject: String,
    /// When the check ran (UTC).
    pub checked_at: DateTime,
    /// Scope uuid.
    pub scopeuuid: String,
    /// `*` or the legacy version name.
    pub version: String,
    /// Testcase id.
    pub check: String,
    /// -1, 0 or 1.
    pub result: i64,
    /// The vestigial approval flag.
    pub approval: bool,
}

/// One item of `POST /results`.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApprovalItem {
    /// Run uuid.
    pub reportuuid: String,
    /// Scope uuid.
    pub scopeuuid: String,
    /// `*` or the legacy version name.
    pub version: String,
    /// Testcase id.
    pub check: String,
    /// New flag.
    pub approval: bool,
}

/// UTC microseconds since the epoch for a naive UTC datetime.
pub fn to_micros(at: DateTime) -> i64 {
    Offset::UTC
        .to_timestamp(at)
        .map(|t| t.as_microsecond())
        .unwrap_or(i64::MAX)
}

/// The naive UTC datetime for stored microseconds.
pub fn from_micros(micros: i64) -> DateTime {
    let ts = Timestamp::from_microsecond(micros).unwrap_or(Timestamp::MAX);
    Offset::UTC.to_datetime(ts)
}

/// SQLite writes the database, its `-wal` and `-shm` files with the mode of the database file:
/// make that file owner-only (0600) before SQLite opens it, whatever the umask, and tighten
/// files an older version left readable (the tables hold API-key hashes).
fn private_sqlite_files(url: &str) -> anyhow::Result<()> {
    let options = sqlx::sqlite::SqliteConnectOptions::from_str(url)
        .with_context(|| format!("invalid database URL {:?}", redact_url(url)))?;
    let file = options.get_filename();
    if file.as_os_str().is_empty()
        || file == std::path::Path::new(":memory:")
        || url.contains("mode=memory")
    {
        return Ok(());
    }
    scs_kaas_core::secret_file::create_private(file).context("cannot prepare the database file")?;
    for suffix in ["-wal", "-shm"] {
        let mut side = file.as_os_str().to_owned();
        side.push(suffix);
        let side = std::path::PathBuf::from(side);
        if side.exists() {
            scs_kaas_core::secret_file::create_private(&side)
                .context("cannot prepare the database file")?;
        }
    }
    Ok(())
}

/// The passwords in a database URL: the userinfo's and any `password=` query parameter's.
fn url_passwords(url: &str) -> Vec<&str> {
    let mut found = Vec::new();
    if let Some(scheme) = url.find("://") {
        let rest = &url[scheme + 3..];
        let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        if let Some(at) = rest[..authority_end].rfind('@')
            && let Some((_, password)) = rest[..at].split_once(':')
        {
            found.push(password);
        }
    }
    if let Some((_, query)) = url.split_once('?') {
        for pair in query.split(['&', '#']) {
            if let Some((key, value)) = pair.split_once('=')
                && key.eq_ignore_ascii_case("password")
            {
                found.push(value);
            }
        }
    }
    found.retain(|p| !p.is_empty());
    found
}

/// `text` with `%XX` escapes decoded (as a driver shows a password it took from a URL).
fn percent_decoded(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `url` with every password replaced by `***` (`postgres://user:***@host/db?password=***`), for
/// every message that names a database.
pub fn redact_url(url: &str) -> String {
    redact_secrets(url, url)
}

/// `text` with every password of `url` replaced by `***` (longest first, so a password that
/// contains another is not left half-visible).
pub fn redact_secrets(text: &str, url: &str) -> String {
    let mut passwords: Vec<String> = url_passwords(url)
        .into_iter()
        .flat_map(|p| [p.to_string(), percent_decoded(p)])
        .collect();
    passwords.sort_by_key(|p| std::cmp::Reverse(p.len()));
    let mut text = text.to_string();
    for password in passwords {
        text = text.replace(&password, "***");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_url_hides_userinfo_and_query_passwords() {
        assert_eq!(
            redact_url(
                "postgres://mon:s3cret@db.example:5432/monitor?password=other&sslmode=require"
            ),
            "postgres://mon:***@db.example:5432/monitor?password=***&sslmode=require"
        );
        assert_eq!(
            redact_url("postgres://mon@db/monitor"),
            "postgres://mon@db/monitor"
        );
        assert_eq!(redact_url("sqlite://monitor.db"), "sqlite://monitor.db");
        // An `@` in the path is not userinfo; a percent-encoded password is hidden decoded too.
        assert_eq!(
            redact_secrets("password p@ss rejected", "postgres://u:p%40ss@h/d"),
            "password *** rejected"
        );
    }

    #[tokio::test]
    async fn connection_errors_never_show_a_password() {
        // Port 1 on loopback refuses at once.
        for url in [
            "postgres://mon:s3cr%40t@127.0.0.1:1/monitor?password=qu3ry",
            "postgres://mon:s3cr%40t@127.0.0.1:notaport/monitor?password=qu3ry",
            "mysql://mon:s3cr%40t@127.0.0.1:1/monitor?password=qu3ry",
        ] {
            let err = format!("{:#}", Db::connect(url).await.unwrap_err());
            for secret in ["s3cr%40t", "s3cr@t", "qu3ry"] {
                assert!(!err.contains(secret), "{url}: {err}");
            }
            assert!(err.contains("mon:***@127.0.0.1"), "{url}: {err}");
        }
    }
}
