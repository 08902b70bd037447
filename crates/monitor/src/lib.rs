//! The scs-kaas compliance monitor: SCS-compatible report API, status pages, badges and metrics.
//!
//! # Overview
//! - [`state`]: start-up and reload (database, bootstrap, scopes) and the request state.
//! - [`server`]: routes, request metrics, SIGHUP reload, serve loop.
//! - [`api`]: the JSON endpoints; [`body`]: bounded body reads after authentication;
//!   [`upload`]: signed-report parsing and validation;
//!   [`writer`]: batched durable inserts.
//! - [`views`]: HTML/Markdown pages and SVG badges; [`board`]: evaluation at request time.
//! - [`auth`]: accounts, roles, basic auth; [`bootstrap`]: the bootstrap file.
//! - [`db`]: SQLite/PostgreSQL through one code path; [`latest`]: the newest-result cache.

pub mod api;
pub mod auth;
pub mod board;
pub mod body;
pub mod bootstrap;
pub mod clock;
pub mod db;
pub mod error;
pub mod latest;
pub mod metrics;
pub mod scopes;
pub mod server;
pub mod state;
pub mod upload;
pub mod views;
pub mod writer;
