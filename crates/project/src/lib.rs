//! Load a dbt-style project and turn it into a graph of compiled SQL.
//!
//! This crate knows nothing about execution: it reads `dbt_project.yml`, models, properties,
//! seeds, tests and macros; renders Jinja; resolves every `ref` and `source` to a relation; builds
//! the DAG; and selects nodes. The engine crate runs what it produces.
//!
//! ```text
//! load ──► parse render (refs, configs) ──► relations ──► DAG ──► compile render (SQL)
//! ```

pub mod compute;
pub mod config;
pub mod error;
pub mod graph;
pub mod jinja;
mod load;
pub mod location;
pub mod packages;
pub mod props;
pub mod relation;
pub mod spec;
pub mod state;
pub mod unit_tests;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

pub use compute::{Compute, ComputeError};
pub use config::{Config, Target};
pub use error::{ProjectError, Result};
pub use graph::Dag;
pub use load::LoadOptions;
pub use location::{LocationError, StorageLocation};
pub use props::{ColumnProps, Expectation, OnViolation};
pub use relation::{Relation, quote_ident, sql_string};
pub use spec::Materialization;

/// What kind of node a graph vertex is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ResourceType {
    Seed,
    Model,
    Snapshot,
    Test,
    Source,
}

impl ResourceType {
    pub fn as_str(&self) -> &'static str {
        match self {
            ResourceType::Seed => "seed",
            ResourceType::Model => "model",
            ResourceType::Snapshot => "snapshot",
            ResourceType::Test => "test",
            ResourceType::Source => "source",
        }
    }
}

/// A generic test's call: which macro, on what, with which arguments.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TestSpec {
    /// The test's short name, e.g. `unique` or `relationships`.
    pub test_name: String,
    /// The package whose macro runs it (`dbt_utils` for `dbt_utils.accepted_range`), when the
    /// test was named with one and that package has it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub package: Option<String>,
    pub column_name: Option<String>,
    /// Arguments other than `model` and `column_name`.
    pub kwargs: serde_json::Map<String, Json>,
    /// The model, seed or source the test is attached to.
    pub attached_to: String,
}

/// A model, seed, snapshot or test.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Node {
    pub unique_id: String,
    pub resource_type: ResourceType,
    pub name: String,
    /// The file the node comes from, relative to the project root.
    pub path: PathBuf,
    /// The properties file that describes it, if any.
    pub patch_path: Option<PathBuf>,
    pub fqn: Vec<String>,
    pub raw_code: String,
    /// Every configuration key as written (for the manifest, selectors and Jinja's `config.get`).
    pub config: Config,
    /// What the engine builds, resolved from `config` at load.
    pub materialization: Materialization,
    pub description: String,
    pub columns: Vec<ColumnProps>,
    pub refs: Vec<String>,
    pub source_refs: Vec<(String, String)>,
    /// Unique ids of the nodes and sources this one reads.
    pub depends_on: Vec<String>,
    /// Where a model, seed or snapshot lives in the warehouse.
    pub relation: Option<Relation>,
    pub test: Option<TestSpec>,
    /// A unit test's model, inputs and expected rows.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit: Option<unit_tests::UnitTestSpec>,
    /// Row conditions checked when the model is built.
    pub expectations: Vec<Expectation>,
}

impl Node {
    /// A node as discovery first makes it: no refs, properties or relation yet, and
    /// materialized as a view until its configuration is resolved after the parse render.
    pub(crate) fn new(
        unique_id: String,
        resource_type: ResourceType,
        name: String,
        path: PathBuf,
        fqn: Vec<String>,
        config: Config,
    ) -> Self {
        Node {
            unique_id,
            resource_type,
            name,
            path,
            patch_path: None,
            fqn,
            raw_code: String::new(),
            config,
            materialization: Materialization::View,
            description: String::new(),
            columns: Vec::new(),
            refs: Vec::new(),
            source_refs: Vec::new(),
            depends_on: Vec::new(),
            relation: None,
            test: None,
            unit: None,
            expectations: Vec::new(),
        }
    }

    /// dbt's name for how the node is built: `view`, `table`, `incremental`, `seed`, ….
    pub fn materialized(&self) -> &'static str {
        self.materialization.name()
    }

    pub fn is_ephemeral(&self) -> bool {
        self.materialization == Materialization::Ephemeral
    }
}

/// Files backing a source: a path or glob relative to the project root.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct External {
    pub location: String,
    pub file_format: Option<String>,
}

/// A table declared under `sources:`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Source {
    pub unique_id: String,
    pub source_name: String,
    pub name: String,
    pub description: String,
    pub path: PathBuf,
    pub relation: Relation,
    pub external: Option<External>,
    pub columns: Vec<ColumnProps>,
    pub loaded_at_field: Option<String>,
    pub freshness: Option<Json>,
    /// How `orderlake ingest` treats new columns in this table's landing files.
    pub schema_evolution: spec::SchemaEvolution,
}

/// A loaded, parsed project: every node with its refs resolved and the DAG checked for cycles.
#[derive(Debug, Clone)]
pub struct Project {
    pub root: PathBuf,
    pub name: String,
    pub file: config::ProjectFile,
    pub target: Target,
    pub nodes: BTreeMap<String, Node>,
    pub sources: BTreeMap<String, Source>,
    pub dag: Dag,
    pub(crate) scope: std::sync::Arc<jinja::Scope>,
    /// `--state`: an earlier run's artifacts, for `state:`/`result:` selectors and `--defer`.
    pub state: Option<std::sync::Arc<state::State>>,
}

/// A time window of a microbatch model, as SQL timestamp literals' text (UTC).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    pub start: String,
    pub end: String,
}

/// A node's SQL after the compile render, ephemeral CTEs inlined.
#[derive(Debug, Clone)]
pub struct Compiled {
    pub sql: String,
    /// Columns and query results the SQL depends on that were not supplied: compile again with
    /// them in [`Lookups`] (the engine does) for the final SQL.
    pub wanted: jinja::Wanted,
}

impl Project {
    /// Loads and parses the project in `root`.
    pub fn load(root: &Path, options: &LoadOptions) -> Result<Self> {
        load::load(root, options)
    }

    /// Resolves `--select` / `--exclude` (see [`graph::select`]), with `state:` and `result:`
    /// selectors read against `--state`.
    pub fn select(
        &self,
        selectors: &[String],
        excludes: &[String],
    ) -> Result<std::collections::BTreeSet<String>> {
        let macros = if self.state.is_some() {
            self.scope.macros.sources()
        } else {
            BTreeMap::new()
        };
        graph::select(
            &self.nodes,
            &self.sources,
            &self.dag,
            selectors,
            excludes,
            &graph::SelectState {
                state: self.state.as_deref(),
                macros: &macros,
            },
        )
    }

    /// Each macro's source by name, for the manifest.
    pub fn macro_sources(&self) -> BTreeMap<String, String> {
        self.scope.macros.sources()
    }

    pub fn vars(&self) -> &BTreeMap<String, Json> {
        &self.scope.vars
    }

    pub fn target_dir(&self) -> PathBuf {
        self.root.join(&self.file.target_path)
    }

    /// Looks up a model, seed or snapshot by name.
    pub fn node_by_name(&self, name: &str) -> Option<&Node> {
        self.scope.names.get(name).and_then(|id| self.nodes.get(id))
    }

    /// All model, seed and snapshot names (for suggestions).
    pub fn relation_names(&self) -> impl Iterator<Item = &str> {
        self.scope.names.keys().map(String::as_str)
    }

    /// Renders a node's SQL for execution. `is_incremental` is what `is_incremental()` returns.
    pub fn compile(&self, unique_id: &str, is_incremental: bool) -> Result<Compiled> {
        load::compile(self, unique_id, is_incremental, None, None)
    }

    /// [`Project::compile`] of many nodes, on every core; results in the order of `ids`.
    pub fn compile_all(&self, ids: &[String]) -> Result<Vec<Compiled>> {
        load::parallel(ids.iter().collect(), |id| self.compile(id, false))
    }

    /// Renders a node's SQL with answers to what its Jinja asks of the warehouse (relation
    /// columns, `run_query` results); see [`jinja::Lookups`].
    pub fn compile_with(
        &self,
        unique_id: &str,
        is_incremental: bool,
        batch: Option<&Batch>,
        lookups: &std::sync::Arc<jinja::Lookups>,
    ) -> Result<Compiled> {
        load::compile(self, unique_id, is_incremental, batch, Some(lookups))
    }

    /// Renders one batch of a microbatch model: `ref`s to models with an `event_time` read only
    /// rows in `[batch.start, batch.end)`.
    pub fn compile_batch(
        &self,
        unique_id: &str,
        is_incremental: bool,
        batch: &Batch,
    ) -> Result<Compiled> {
        load::compile(self, unique_id, is_incremental, Some(batch), None)
    }

    /// Renders a free-standing query (e.g. `show --inline`) with the project's refs and macros.
    pub fn compile_inline(&self, sql: &str) -> Result<String> {
        load::compile_inline(self, sql)
    }

    /// Where the compiled SQL of a node is written, relative to the project root.
    pub fn compiled_path(&self, node: &Node) -> PathBuf {
        let mut path = PathBuf::from(&self.file.target_path)
            .join("compiled")
            .join(&self.name);
        if node.resource_type == ResourceType::Test && (node.test.is_some() || node.unit.is_some())
        {
            path = path.join(&node.path).join(format!("{}.sql", node.name));
        } else {
            path = path.join(&node.path);
        }
        path
    }
}
