//! End-to-end tests of the `orderlake` binary, in one test binary: each separate binary would link
//! DataFusion and delta-rs again (as ripgrep keeps its integration tests in `tests/tests.rs`).
//!
//! - `build`: projects build, and what lands in the warehouse is right.
//! - `errors`: bad input gets a clear error naming the file and line.
//! - `pipeline`: incremental models, snapshots, expectations, freshness, the event log, crashes.
//! - `oms`: the OMS lakehouse, gold checked against an independent computation.
//! - `commerce`: the commerce schema on the real Olist export, checked the same way.
//! - `desk`: the order desk's events reach silver and gold.
//! - `serve`: the dashboard, docs and SQL endpoint with real clients.
//! - `object_store`: the warehouse on an S3-compatible store (moto).
//! - `cluster`: model queries on a Ballista scheduler and two executors.
//! - `alerts`: health.yml's alerts reach a webhook and an SMTP server, once per incident.
//! - `jobs`: a day of scheduled jobs, fast-forwarded; backups restored; missed runs caught up.

mod util;

mod alerts;
mod build;
mod cluster;
mod commerce;
mod commerce_platforms;
mod desk;
mod errors;
mod jobs;
mod live;
mod object_store;
mod oms;
mod packages;
mod pipeline;
mod predictions;
mod serve;
mod sql_clients;
mod state;
mod unit_tests;
