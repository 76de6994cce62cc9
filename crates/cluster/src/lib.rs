//! An Apache Ballista cluster for orderlake: `orderlake cluster scheduler` and `orderlake
//! cluster executor` are Ballista's own scheduler and executor, embedded, with what orderlake's
//! model queries need on every node — its SQL functions (so plans that call them decode and
//! run) and object stores for the warehouse (`file://` and any `s3://` bucket, from the AWS_*
//! environment of each process).
//!
//! How a model's query gets here is [`orderlake_engine::cluster`]'s: Delta tables arrive as
//! Parquet file lists, so nodes need no Delta support of their own.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use ballista_core::registry::BallistaFunctionRegistry;
use ballista_executor::executor_process::{ExecutorProcessConfig, start_executor_process};
use ballista_scheduler::cluster::BallistaCluster;
use ballista_scheduler::config::SchedulerConfig;
use datafusion::execution::runtime_env::{RuntimeEnv, RuntimeEnvBuilder};
use datafusion::execution::session_state::{SessionState, SessionStateBuilder};
use datafusion::prelude::SessionConfig;
use orderlake_engine::storage::EnvironmentStores;

/// What went wrong starting or running a node.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("the Ballista {role} stopped: {source}")]
    Ballista {
        role: &'static str,
        #[source]
        source: ballista_core::error::BallistaError,
    },
    #[error("the Ballista {role} cannot start: {source}")]
    Setup {
        role: &'static str,
        #[source]
        source: datafusion::error::DataFusionError,
    },
}

pub type Result<T, E = ClusterError> = std::result::Result<T, E>;

/// Where an executor listens and which scheduler it serves.
#[derive(Debug, Clone)]
pub struct ExecutorOptions {
    /// The scheduler's host and gRPC port.
    pub scheduler: (String, u16),
    /// The address this executor binds (Arrow Flight on `port`, gRPC on `grpc_port`).
    pub bind_host: String,
    /// The host other nodes reach this one by (default: `bind_host`).
    pub external_host: Option<String>,
    pub port: u16,
    pub grpc_port: u16,
    /// Tasks run at once (default: the cores of this machine).
    pub vcores: Option<usize>,
    /// Where shuffle files go (default: a temporary folder).
    pub work_dir: Option<PathBuf>,
}

/// One set of object stores per process: S3 clients and their connections are reused by every
/// query and task.
fn runtime(stores: &Arc<EnvironmentStores>) -> datafusion::error::Result<Arc<RuntimeEnv>> {
    RuntimeEnvBuilder::new()
        .with_object_store_registry(stores.clone())
        .build_arc()
}

/// Ballista's session for `config`, with orderlake's functions and object stores.
fn session_state(
    config: SessionConfig,
    stores: &Arc<EnvironmentStores>,
) -> datafusion::error::Result<SessionState> {
    let ballista = ballista_core::utils::default_session_builder(config)?;
    let mut state = SessionStateBuilder::new_from_existing(ballista)
        .with_runtime_env(runtime(stores)?)
        .build();
    orderlake_engine::functions::register_all(&mut state)?;
    Ok(state)
}

/// Runs a scheduler on `address` until the process is stopped.
pub async fn run_scheduler(address: SocketAddr) -> Result<()> {
    let stores = Arc::new(EnvironmentStores::default());
    let config = SchedulerConfig {
        bind_host: address.ip().to_string(),
        bind_port: address.port(),
        external_host: address.ip().to_string(),
        override_session_builder: Some(Arc::new(move |config| session_state(config, &stores))),
        ..Default::default()
    };
    let ballista = |source| ClusterError::Ballista {
        role: "scheduler",
        source,
    };
    let cluster = BallistaCluster::new_from_config(&config)
        .await
        .map_err(ballista)?;
    tracing::info!("Ballista scheduler listening on {address}");
    ballista_scheduler::scheduler_process::start_server(cluster, address, Arc::new(config))
        .await
        .map_err(ballista)
}

/// Runs an executor until the process is stopped (or the scheduler tells it to stop).
pub async fn run_executor(options: ExecutorOptions) -> Result<()> {
    let stores = Arc::new(EnvironmentStores::default());
    let functions =
        session_state(SessionConfig::new(), &stores).map_err(|source| ClusterError::Setup {
            role: "executor",
            source,
        })?;
    let runtime_stores = stores.clone();
    let defaults = ExecutorProcessConfig::default();
    let config = ExecutorProcessConfig {
        bind_host: options.bind_host.clone(),
        external_host: Some(options.external_host.unwrap_or(options.bind_host)),
        port: options.port,
        grpc_port: options.grpc_port,
        scheduler_host: options.scheduler.0,
        scheduler_port: options.scheduler.1,
        vcores: options.vcores.unwrap_or(defaults.vcores),
        work_dir: options
            .work_dir
            .map(|dir| dir.to_string_lossy().into_owned()),
        override_function_registry: Some(Arc::new(BallistaFunctionRegistry::from(&functions))),
        override_runtime_producer: Some(Arc::new(move |_: &SessionConfig| {
            runtime(&runtime_stores)
        })),
        ..defaults
    };
    tracing::info!(
        "Ballista executor on {}:{} (gRPC {}), scheduler {}:{}",
        config.bind_host,
        config.port,
        config.grpc_port,
        config.scheduler_host,
        config.scheduler_port
    );
    start_executor_process(Arc::new(config))
        .await
        .map_err(|source| ClusterError::Ballista {
            role: "executor",
            source,
        })
}
