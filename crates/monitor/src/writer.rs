//! The single writer task: it batches concurrent uploads into one transaction so that one fsync
//! serves many requests, and answers each request only after the commit (2xx means durable).
//!
//! Each upload gets its own SAVEPOINT, so one upload's duplicate run uuid rolls back that upload
//! only (all-or-nothing per request) while the others in the batch commit.

use std::sync::Arc;

use sqlx::{AssertSqlSafe, Row};
use tokio::sync::{mpsc, oneshot};

use crate::db::{Db, to_micros};
use crate::latest::Latest;
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

/// Handle to submit uploads to the writer task.
#[derive(Debug, Clone)]
pub struct Writer {
    tx: mpsc::Sender<Job>,
}

const MAX_BATCH: usize = 512;

impl Writer {
    /// Starts the writer task.
    pub fn spawn(db: Db, latest: Arc<Latest>) -> Writer {
        let (tx, mut rx) = mpsc::channel::<Job>(4096);
        tokio::spawn(async move {
            while let Some(first) = rx.recv().await {
                let mut batch = vec![first];
                while batch.len() < MAX_BATCH {
                    match rx.try_recv() {
                        Ok(job) => batch.push(job),
                        Err(_) => break,
                    }
                }
                write_batch(&db, &latest, batch).await;
            }
        });
        Writer { tx }
    }

    /// Stores the reports of one upload atomically; returns after the commit.
    pub async fn write(&self, reports: Vec<IncomingReport>) -> Result<(), WriteError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Job { reports, reply })
            .await
            .map_err(|_| WriteError::Database("the writer task has stopped".into()))?;
        rx.await
            .map_err(|_| WriteError::Database("the writer task has stopped".into()))?
    }
}

async fn write_batch(db: &Db, latest: &Latest, batch: Vec<Job>) {
    let mut outcomes: Vec<Result<(), WriteError>> = Vec::with_capacity(batch.len());
    let committed = async {
        let mut tx = db.pool.begin().await?;
        for job in &batch {
            sqlx::raw_sql("SAVEPOINT upload").execute(&mut *tx).await?;
            match insert_job(&mut tx, &job.reports).await {
                Ok(()) => {
                    sqlx::raw_sql("RELEASE SAVEPOINT upload")
                        .execute(&mut *tx)
                        .await?;
                    outcomes.push(Ok(()));
                }
                Err(err) => {
                    sqlx::raw_sql("ROLLBACK TO SAVEPOINT upload")
                        .execute(&mut *tx)
                        .await?;
                    sqlx::raw_sql("RELEASE SAVEPOINT upload")
                        .execute(&mut *tx)
                        .await?;
                    outcomes.push(Err(err));
                }
            }
        }
        tx.commit().await?;
        Ok::<(), sqlx::Error>(())
    }
    .await;
    match committed {
        Ok(()) => {
            for (job, outcome) in batch.into_iter().zip(outcomes) {
                if outcome.is_ok() {
                    for r in &job.reports {
                        for (_, testcase, status) in &r.results {
                            latest.offer(
                                &r.subject,
                                &r.scope,
                                testcase,
                                *status,
                                r.checked_at,
                                &r.uuid,
                            );
                        }
                    }
                }
                let _ = job.reply.send(outcome);
            }
        }
        Err(err) => {
            tracing::error!(error = %err, "report batch not committed");
            for job in batch {
                let _ = job.reply.send(Err(WriteError::Database(err.to_string())));
            }
        }
    }
}

async fn insert_job(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    reports: &[IncomingReport],
) -> Result<(), WriteError> {
    let db_err = |e: sqlx::Error| WriteError::Database(e.to_string());
    for r in reports {
        let row = sqlx::query(
            "INSERT INTO report (reportuuid, checked_at, received_at, subject, scopeuuid, data) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING reportid",
        )
        .bind(r.uuid.clone())
        .bind(to_micros(r.checked_at))
        .bind(to_micros(r.received_at))
        .bind(r.subject.clone())
        .bind(r.scope.clone())
        .bind(r.data.clone())
        .fetch_one(&mut **tx)
        .await
        .map_err(|e| match &e {
            sqlx::Error::Database(d) if d.is_unique_violation() => {
                WriteError::Duplicate(r.uuid.clone())
            }
            _ => db_err(e),
        })?;
        let reportid: i64 = row.try_get(0).map_err(db_err)?;
        for chunk in r.results.chunks(100) {
            let mut sql = String::from(
                "INSERT INTO result2 (checked_at, subject, scopeuuid, version, testcase, result, \
                 approval, reportid) VALUES ",
            );
            for i in 0..chunk.len() {
                let b = i * 8;
                if i > 0 {
                    sql.push_str(", ");
                }
                sql.push_str(&format!(
                    "(${}, ${}, ${}, ${}, ${}, ${}, ${}, ${})",
                    b + 1,
                    b + 2,
                    b + 3,
                    b + 4,
                    b + 5,
                    b + 6,
                    b + 7,
                    b + 8
                ));
            }
            let mut query = sqlx::query(AssertSqlSafe(sql));
            for (version, testcase, status) in chunk {
                let value = i64::from(status.report_value());
                query = query
                    .bind(to_micros(r.checked_at))
                    .bind(r.subject.clone())
                    .bind(r.scope.clone())
                    .bind(version.clone())
                    .bind(testcase.clone())
                    .bind(value)
                    .bind(i64::from(value == 1))
                    .bind(reportid);
            }
            query.execute(&mut **tx).await.map_err(db_err)?;
        }
    }
    Ok(())
}
