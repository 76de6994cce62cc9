//! Model queries on an Apache Ballista cluster (`engine: ballista://host:port`).
//!
//! A model's query is planned here, on the warehouse's own session, then shipped: its logical
//! plan goes to the scheduler, which splits it into stages that the executors run, and the rows
//! stream back into this process, which writes the Delta table (commits stay with the one
//! writer that holds the table's state).
//!
//! Executors do not run delta-rs: each Delta table a query reads is handed to the cluster as
//! the Parquet files of the version this session reads (its current file list, from the Delta
//! log), scanned by DataFusion's own Parquet reader. That plan serializes with DataFusion's
//! standard codec, needs no log replay on the scheduler, and reads exactly the snapshot a
//! local run would; a table with no files becomes an empty relation. A query that reads
//! anything else the cluster cannot serialize (an in-memory table) runs in this process.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use ballista_core::extension::SessionStateExt as _;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::MemoryCatalogProviderList;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::datasource::{provider_as_source, source_as_provider};
use datafusion::execution::TaskContext;
use datafusion::execution::session_state::{SessionState, SessionStateBuilder};
use datafusion::logical_expr::{EmptyRelation, LogicalPlan, TableScan, TableScanBuilder};
use datafusion::physical_plan::SendableRecordBatchStream;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::streaming::PartitionStream;
use datafusion::prelude::DataFrame;
use futures::TryStreamExt as _;
use orderlake_project::Compute;

use crate::error::{EngineError, Result};

/// How long the scheduler's address may take to answer before the build gives up on it.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Ballista settings for every query (`key=value,key=value`), e.g.
/// `ballista.shuffle.compression.codec=zstd`.
pub const SETTINGS_VARIABLE: &str = "ORDERLAKE_BALLISTA_SETTINGS";

fn settings() -> Vec<(String, String)> {
    std::env::var(SETTINGS_VARIABLE)
        .unwrap_or_default()
        .split(',')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

/// A connection to a Ballista scheduler: the session state that plans queries there.
pub struct Cluster {
    address: String,
    state: SessionState,
    /// Queries started on the cluster (shared with the streams that start them).
    queries: Arc<AtomicU64>,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Cluster({})", self.address)
    }
}

impl Cluster {
    /// Connects to the scheduler `compute` names (`None` for a local engine), planning with
    /// `local`'s functions and settings. An address that does not answer is an error now,
    /// naming it, rather than a hang at the first model.
    pub async fn connect(compute: &Compute, local: &SessionState) -> Result<Option<Cluster>> {
        let Compute::Ballista { host, port } = compute else {
            return Ok(None);
        };
        let address = compute.to_string();
        let unreachable = |why: String| {
            EngineError::Warehouse(format!(
                "cannot reach the Ballista scheduler at {address}: {why} (start one with \
                 `orderlake cluster scheduler`)"
            ))
        };
        match tokio::time::timeout(
            CONNECT_TIMEOUT,
            tokio::net::TcpStream::connect((host.as_str(), *port)),
        )
        .await
        {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => return Err(unreachable(e.to_string())),
            Err(_) => return Err(unreachable(format!("no answer in {CONNECT_TIMEOUT:?}"))),
        }
        // Plans arrive built (tables resolved here), so the cluster session needs no catalog;
        // building a state creates its default catalog, which must not replace the warehouse's.
        let detached = SessionStateBuilder::new_from_existing(local.clone())
            .with_catalog_list(Arc::new(MemoryCatalogProviderList::new()))
            .build();
        let mut state = detached.upgrade_for_ballista(format!("http://{host}:{port}"))?;
        // Ballista 55's adaptive planner (on by default) returned wrong rows for a window over
        // a filtered window (OMS's product_versions: a dedup by row_number, then lead), where
        // its static planner is right; `ballista.planner.adaptive.enabled=true` in the settings
        // turns it back on.
        let defaults = [("ballista.planner.adaptive.enabled", "false")]
            .map(|(k, v)| (k.to_string(), v.to_string()));
        for (key, value) in defaults.into_iter().chain(settings()) {
            state
                .config_mut()
                .options_mut()
                .set(&key, &value)
                .map_err(|e| EngineError::Warehouse(format!("{SETTINGS_VARIABLE}: {key}: {e}")))?;
        }
        Ok(Some(Cluster {
            address,
            state,
            queries: Arc::new(AtomicU64::new(0)),
        }))
    }

    /// The scheduler's address, `ballista://host:port`.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// How many queries this session has run on the cluster.
    pub fn queries_run(&self) -> u64 {
        self.queries.load(Ordering::Relaxed)
    }

    /// `plan` (optimized on the warehouse's session, views inlined) as a query the cluster can
    /// run, with `files_of` giving each Delta table scan its Parquet files; `None` when it
    /// reads something the cluster cannot (named in the log).
    pub(crate) fn shippable(
        &self,
        plan: LogicalPlan,
        files_of: &dyn Fn(&TableScan) -> Option<Vec<String>>,
    ) -> Result<Option<LogicalPlan>> {
        let mut unshippable = None;
        let rewritten = plan
            .transform_up(|node| {
                let LogicalPlan::TableScan(scan) = &node else {
                    return Ok(Transformed::no(node));
                };
                let provider = source_as_provider(&scan.source)?;
                if provider.is::<ListingTable>() {
                    return Ok(Transformed::no(node));
                }
                let Some(files) = files_of(scan) else {
                    unshippable.get_or_insert_with(|| scan.table_name.to_string());
                    return Ok(Transformed::no(node));
                };
                if files.is_empty() {
                    return Ok(Transformed::yes(LogicalPlan::EmptyRelation(
                        EmptyRelation {
                            produce_one_row: false,
                            schema: scan.projected_schema.clone(),
                        },
                    )));
                }
                let urls = files
                    .iter()
                    .map(ListingTableUrl::parse)
                    .collect::<datafusion::error::Result<Vec<_>>>()?;
                let options = ListingOptions::new(Arc::new(ParquetFormat::default()))
                    .with_file_extension(".parquet");
                let config = ListingTableConfig::new_with_multi_paths(urls)
                    .with_listing_options(options)
                    .with_schema(provider.schema());
                let listing = ListingTable::try_new(config)?;
                let shipped = TableScanBuilder::new(
                    scan.table_name.clone(),
                    provider_as_source(Arc::new(listing)),
                )
                .with_projection(scan.projection.clone())
                .with_filters(scan.filters.clone())
                .with_fetch(scan.fetch)
                .with_statistics_requests(scan.statistics_requests.clone())
                .build()?;
                Ok(Transformed::yes(LogicalPlan::TableScan(shipped)))
            })?
            .data;
        if let Some(table) = unshippable {
            tracing::info!(
                "runs in this process, not on {}: it reads {table}, which the cluster cannot",
                self.address
            );
            return Ok(None);
        }
        Ok(Some(rewritten))
    }

    /// A query over the rows `plan` yields on the cluster, for the warehouse's session to write
    /// from: the cluster runs it when (and each time) the result is read.
    pub(crate) fn remote(&self, plan: LogicalPlan) -> Arc<dyn PartitionStream> {
        let schema: SchemaRef = Arc::new(plan.schema().as_arrow().clone());
        Arc::new(Remote {
            df: DataFrame::new(self.state.clone(), plan),
            schema,
            queries: self.queries.clone(),
        })
    }
}

/// One model query on the cluster, as the single partition of a streaming table.
struct Remote {
    df: DataFrame,
    schema: SchemaRef,
    queries: Arc<AtomicU64>,
}

impl std::fmt::Debug for Remote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Remote")
            .field("schema", &self.schema)
            .finish()
    }
}

impl PartitionStream for Remote {
    fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    fn execute(&self, _: Arc<TaskContext>) -> SendableRecordBatchStream {
        let df = self.df.clone();
        let queries = self.queries.clone();
        let batches = futures::stream::once(async move {
            queries.fetch_add(1, Ordering::Relaxed);
            df.execute_stream().await
        })
        .try_flatten();
        Box::pin(RecordBatchStreamAdapter::new(self.schema.clone(), batches))
    }
}
