//! `orderlake cluster scheduler|executor`: the nodes of an Apache Ballista cluster that runs
//! model queries (`--engine ballista://host:port`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::{Args, Subcommand};

#[derive(Args)]
pub struct ClusterArgs {
    #[command(subcommand)]
    command: ClusterCommand,
}

#[derive(Subcommand)]
enum ClusterCommand {
    /// Run a Ballista scheduler: builds point at it with --engine ballista://host:port.
    Scheduler {
        /// Where it listens (gRPC).
        #[arg(long, default_value = "127.0.0.1:50050")]
        bind: SocketAddr,
    },
    /// Run a Ballista executor that takes tasks from a scheduler.
    Executor {
        /// The scheduler, host:port.
        #[arg(long, default_value = "127.0.0.1:50050", value_parser = host_port)]
        scheduler: (String, u16),
        /// The address it binds.
        #[arg(long, default_value = "127.0.0.1")]
        bind_host: String,
        /// The address other nodes reach it by (default: --bind-host).
        #[arg(long)]
        external_host: Option<String>,
        /// Arrow Flight port (shuffle data and results are fetched here).
        #[arg(long, default_value_t = 50051)]
        port: u16,
        /// gRPC port.
        #[arg(long, default_value_t = 50052)]
        grpc_port: u16,
        /// Tasks it runs at once (default: the machine's cores).
        #[arg(long)]
        vcores: Option<usize>,
        /// Where shuffle files go (default: a temporary folder).
        #[arg(long)]
        work_dir: Option<PathBuf>,
    },
}

/// `host:port`.
fn host_port(text: &str) -> std::result::Result<(String, u16), String> {
    let (host, port) = text
        .rsplit_once(':')
        .ok_or_else(|| format!("'{text}': write host:port"))?;
    let port = port
        .parse()
        .map_err(|e| format!("'{text}': the port: {e}"))?;
    if host.is_empty() {
        return Err(format!("'{text}': no host"));
    }
    Ok((host.to_string(), port))
}

pub async fn run(args: ClusterArgs) -> Result<ExitCode> {
    match args.command {
        ClusterCommand::Scheduler { bind } => {
            eprintln!("Ballista scheduler on {bind}: build with --engine ballista://{bind}");
            orderlake_cluster::run_scheduler(bind).await?;
        }
        ClusterCommand::Executor {
            scheduler,
            bind_host,
            external_host,
            port,
            grpc_port,
            vcores,
            work_dir,
        } => {
            eprintln!(
                "Ballista executor on {bind_host}:{port} for the scheduler at {}:{}",
                scheduler.0, scheduler.1
            );
            orderlake_cluster::run_executor(orderlake_cluster::ExecutorOptions {
                scheduler,
                bind_host,
                external_host,
                port,
                grpc_port,
                vcores,
                work_dir,
            })
            .await?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
