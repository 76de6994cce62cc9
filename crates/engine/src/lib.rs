//! Execute orderlake projects on Apache DataFusion, with every table stored as Delta Lake.
//!
//! - [`invocation`]: one command on a project (build, run, test, seed, snapshot, compile,
//!   freshness, the event log) — what the CLI, `serve` and tests call.
//! - [`Warehouse`]: a DataFusion session over a folder (or S3 prefix, see [`storage`]) of Delta
//!   tables and persisted views, laid out as [`layout`] says.
//! - [`run`]: executes a selection in DAG order; [`execute`] builds one node by its typed
//!   [`orderlake_project::Materialization`].
//! - [`functions`]: SQL functions users of DuckDB, Postgres and Snowflake expect.
//! - [`cluster`]: model queries on an Apache Ballista cluster instead of this process.
//! - [`maintenance`]: compaction and vacuum for tables that take many small commits.
//!
//! ```text
//! invocation ──► run ──► execute ──► incremental / snapshot / expectations ──► warehouse ──► layout ──► storage
//!     └──► artifacts, events, freshness ─────────────────────────────────────────┘
//! ```

pub mod artifacts;
pub mod cdc;
pub mod cluster;
pub mod delta_types;
pub mod error;
pub mod events;
mod execute;
pub mod expectations;
pub mod file_functions;
pub mod freshness;
pub mod functions;
pub mod incremental;
pub mod invocation;
pub mod job_log;
pub mod layout;
pub mod lookups;
pub mod maintenance;
pub mod output;
pub mod run;
pub mod snapshot;
pub mod storage;
mod tracking;
mod unit_test;
pub mod warehouse;

pub use error::{EngineError, Result, report};
pub use layout::RelationKind;
pub use run::{NodeResult, Reporter, RunOptions, Status};
pub use warehouse::{Warehouse, WriteMode};
