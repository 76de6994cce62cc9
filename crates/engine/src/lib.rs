//! Execute orderlake projects on Apache DataFusion, with every table stored as Delta Lake.
//!
//! - [`Warehouse`]: a DataFusion session over a folder of Delta tables and persisted views.
//! - [`run`]: executes a selection of a [`orderlake_project::Project`] in DAG order.
//! - [`functions`]: SQL functions users of DuckDB, Postgres and Snowflake expect.

pub mod delta_types;
pub mod error;
pub mod events;
pub mod expectations;
pub mod freshness;
pub mod functions;
pub mod incremental;
pub mod output;
pub mod run;
pub mod snapshot;
pub mod warehouse;

pub use error::{EngineError, Result};
pub use run::{NodeResult, Reporter, RunOptions, Status};
pub use warehouse::{RelationKind, Warehouse, WriteMode};
