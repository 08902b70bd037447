//! The single writer: it batches concurrent uploads into one transaction so that one fsync
//! serves many requests, and answers each request only after the commit (2xx means durable).
//!
//! The writer runs on its own thread (a current-thread runtime) with its own database
//! connection, so request parsing on the server's workers never delays a commit, and it never
//! waits for a pooled connection. A batch costs a fixed handful of statements however many
//! uploads it holds:
//!
//! 1. duplicate run uuids inside the batch are found in memory (the later upload is refused);
//! 2. `INSERT INTO report … VALUES (…), (…) ON CONFLICT (reportuuid) DO NOTHING RETURNING
//!    reportid, reportuuid` stores every report; a uuid that is not returned was already stored,
//!    so its upload is refused, and the other reports of that upload are deleted again (uploads
//!    are all-or-nothing);
//! 3. one multi-row `INSERT INTO result2 … SELECT … FROM (VALUES …) JOIN report` stores the
//!    results, copying `checked_at`, `subject` and `scopeuuid` from the report row instead of
//!    binding them again;
//! 4. `COMMIT`; then the result cache is updated under one lock and every upload is answered.
//!
//! Statements are chunked so no statement binds more than about 2,000 values (SQLite allows
//! 32,766 and PostgreSQL 65,535).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use sqlx::{AnyConnection, AssertSqlSafe, Connection, Row};
use tokio::sync::{mpsc, oneshot};

use crate::db::{Db, to_micros};
use crate::latest::{Latest, Offer};
use crate::upload::IncomingReport;

/// Why a write failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WriteError {
    /// A report with this run uuid is already stored (or twice in the upload).
    #[error("Conflict: report {0} already present")]
    Duplicate(String),
    /// The database failed; nothing of the upload was stored.
    #[error("the database could not store the report: {0}")]
    Database(String),
}

struct Job {
    reports: Vec<IncomingReport>,
    reply: oneshot::Sender<Result<(), WriteError>>,
}

/// Handle to submit uploads to the writer thread.
#[derive(Debug, Clone)]
pub struct Writer {
    tx: mpsc::Sender<Job>,
    commits: Arc<AtomicU64>,
}

/// Most uploads in one transaction.
const MAX_BATCH: usize = 1024;
/// Report rows per `INSERT INTO report` statement (6 values each).
const REPORT_CHUNK: usize = 128;
/// Result rows per `INSERT INTO result2` statement (4 values each).
const RESULT_CHUNK: usize = 512;

impl Writer {
    /// Starts the writer thread with its own connection to `db`.
    pub fn spawn(db: &Db, latest: Arc<Latest>) -> anyhow::Result<Writer> {
        let (tx, rx) = mpsc::channel::<Job>(4096);
        let commits = Arc::new(AtomicU64::new(0));
        let db = db.clone();
        let counter = Arc::clone(&commits);
        std::thread::Builder::new()
            .name("monitor-writer".into())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(err) => {
                        tracing::error!(error = %err, "cannot start the writer runtime");
                        return;
                    }
                };
                runtime.block_on(run(db, latest, rx, counter));
            })?;
        Ok(Writer { tx, commits })
    }

    /// Stores the reports of one upload atomically; returns after the commit.
    pub async fn write(&self, reports: Vec<IncomingReport>) -> Result<(), WriteError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Job { reports, reply })
            .await
            .map_err(|_| WriteError::Database("the writer has stopped".into()))?;
        rx.await
            .map_err(|_| WriteError::Database("the writer has stopped".into()))?
    }

    /// Number of transactions committed so far.
    pub fn commits(&self) -> u64 {
        self.commits.load(Ordering::Relaxed)
    }

    /// The commit counter, alive as long as the writer is (the WAL checkpointer follows it).
    pub fn commit_counter(&self) -> std::sync::Weak<AtomicU64> {
        Arc::downgrade(&self.commits)
    }
}

async fn run(db: Db, latest: Arc<Latest>, mut rx: mpsc::Receiver<Job>, commits: Arc<AtomicU64>) {
    let mut conn: Option<AnyConnection> = None;
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        if conn.is_none() {
            match db.writer_connection().await {
                Ok(c) => conn = Some(c),
                Err(err) => {
                    let text = format!("{err:#}");
                    tracing::error!(error = %text, "the writer cannot connect to the database");
                    for job in batch {
                        let _ = job.reply.send(Err(WriteError::Database(text.clone())));
                    }
                    continue;
                }
            }
        }
        let Some(c) = conn.as_mut() else { continue };
        if !write_batch(c, &latest, batch).await {
            // The connection may be broken (e.g. the PostgreSQL server restarted): reconnect
            // for the next batch.
            if let Some(old) = conn.take() {
                let _ = old.close().await;
            }
        } else {
            commits.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Writes one batch; returns whether it committed.
async fn write_batch(conn: &mut AnyConnection, latest: &Latest, batch: Vec<Job>) -> bool {
    let mut outcomes: Vec<Option<Result<(), WriteError>>> = vec![None; batch.len()];
    // Duplicates inside the batch (and inside one upload): the first upload keeps the uuid.
    {
        let mut seen: HashSet<&str> = HashSet::new();
        for (i, job) in batch.iter().enumerate() {
            let mut own: HashSet<&str> = HashSet::new();
            if let Some(dup) = job
                .reports
                .iter()
                .find(|r| seen.contains(r.uuid.as_str()) || !own.insert(r.uuid.as_str()))
            {
                outcomes[i] = Some(Err(WriteError::Duplicate(dup.uuid.clone())));
            } else {
                seen.extend(own);
            }
        }
    }
    let pending: Vec<usize> = (0..batch.len())
        .filter(|i| outcomes[*i].is_none())
        .collect();
    let result = store(conn, &batch, &pending, &mut outcomes).await;
    match result {
        Ok(()) => {
            let accepted = batch
                .iter()
                .zip(&outcomes)
                .filter(|(_, o)| matches!(o, Some(Ok(()))))
                .flat_map(|(job, _)| job.reports.iter())
                .flat_map(|r| {
                    r.results.iter().map(move |(_, testcase, status)| Offer {
                        subject: &r.subject,
                        scope: &r.scope,
                        testcase,
                        result: *status,
                        checked_at: r.checked_at,
                        report: &r.uuid,
                    })
                });
            latest.offer_all(accepted);
            for (job, outcome) in batch.into_iter().zip(outcomes) {
                let _ = job.reply.send(outcome.unwrap_or(Ok(())));
            }
            true
        }
        Err(err) => {
            tracing::error!(error = %err, "report batch not committed");
            let text = err.to_string();
            for (job, outcome) in batch.into_iter().zip(outcomes) {
                // An in-memory duplicate stays a duplicate; everything else failed.
                let answer = match outcome {
                    Some(Err(dup @ WriteError::Duplicate(_))) => Err(dup),
                    _ => Err(WriteError::Database(text.clone())),
                };
                let _ = job.reply.send(answer);
            }
            false
        }
    }
}

/// The transaction of one batch; fills `outcomes` for the `pending` uploads.
async fn store(
    conn: &mut AnyConnection,
    batch: &[Job],
    pending: &[usize],
    outcomes: &mut [Option<Result<(), WriteError>>],
) -> Result<(), sqlx::Error> {
    if pending.is_empty() {
        return Ok(());
    }
    let mut tx = conn.begin().await?;
    let reports: Vec<&IncomingReport> = pending
        .iter()
        .flat_map(|i| batch[*i].reports.iter())
        .collect();
    let mut ids: HashMap<String, i64> = HashMap::with_capacity(reports.len());
    for chunk in reports.chunks(REPORT_CHUNK) {
        let mut sql = String::with_capacity(160 + chunk.len() * 40);
        sql.push_str(
            "INSERT INTO report (reportuuid, checked_at, received_at, subject, scopeuuid, data) \
             VALUES ",
        );
        push_placeholders(&mut sql, chunk.len(), 6);
        sql.push_str(" ON CONFLICT (reportuuid) DO NOTHING RETURNING reportid, reportuuid");
        let mut query = sqlx::query(AssertSqlSafe(sql));
        for r in chunk {
            query = query
                .bind(r.uuid.as_str())
                .bind(to_micros(r.checked_at))
                .bind(to_micros(r.received_at))
                .bind(r.subject.as_str())
                .bind(r.scope.as_str())
                .bind(r.data.as_str());
        }
        for row in query.fetch_all(&mut *tx).await? {
            ids.insert(row.try_get(1)?, row.try_get(0)?);
        }
    }
    // Uploads with a report that was already stored: refuse them, undo their other reports.
    let mut undo: Vec<i64> = Vec::new();
    for i in pending {
        let job = &batch[*i];
        match job.reports.iter().find(|r| !ids.contains_key(&r.uuid)) {
            Some(dup) => {
                outcomes[*i] = Some(Err(WriteError::Duplicate(dup.uuid.clone())));
                undo.extend(job.reports.iter().filter_map(|r| ids.get(&r.uuid).copied()));
            }
            None => outcomes[*i] = Some(Ok(())),
        }
    }
    for chunk in undo.chunks(REPORT_CHUNK) {
        let mut sql = String::from("DELETE FROM report WHERE reportid IN ");
        push_placeholders(&mut sql, 1, chunk.len());
        let mut query = sqlx::query(AssertSqlSafe(sql));
        for id in chunk {
            query = query.bind(*id);
        }
        query.execute(&mut *tx).await?;
    }
    let rows: Vec<(i64, &str, &str, i64)> = pending
        .iter()
        .filter(|i| matches!(outcomes[**i], Some(Ok(()))))
        .flat_map(|i| batch[*i].reports.iter())
        .flat_map(|r| {
            let id = ids[&r.uuid];
            r.results.iter().map(move |(version, testcase, status)| {
                (
                    id,
                    version.as_str(),
                    testcase.as_str(),
                    i64::from(status.report_value()),
                )
            })
        })
        .collect();
    for chunk in rows.chunks(RESULT_CHUNK) {
        let mut sql = String::with_capacity(400 + chunk.len() * 24);
        sql.push_str(
            "INSERT INTO result2 (checked_at, subject, scopeuuid, version, testcase, result, \
             approval, reportid) SELECT p.checked_at, p.subject, p.scopeuuid, v.column2, \
             v.column3, v.column4, CASE WHEN v.column4 = 1 THEN 1 ELSE 0 END, p.reportid FROM (VALUES ",
        );
        push_placeholders(&mut sql, chunk.len(), 4);
        sql.push_str(") AS v JOIN report p ON p.reportid = v.column1");
        let mut query = sqlx::query(AssertSqlSafe(sql));
        for (id, version, testcase, value) in chunk {
            query = query.bind(*id).bind(*version).bind(*testcase).bind(*value);
        }
        query.execute(&mut *tx).await?;
    }
    tx.commit().await
}

/// Appends `($1, …), (…)` for `rows` rows of `width` values.
fn push_placeholders(sql: &mut String, rows: usize, width: usize) {
    use std::fmt::Write as _;
    let mut n = 0;
    for row in 0..rows {
        if row > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        for col in 0..width {
            n += 1;
            if col > 0 {
                sql.push_str(", ");
            }
            let _ = write!(sql, "${n}");
        }
        sql.push(')');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_number_the_rows() {
        let mut sql = String::new();
        push_placeholders(&mut sql, 2, 3);
        assert_eq!(sql, "($1, $2, $3), ($4, $5, $6)");
    }
}
