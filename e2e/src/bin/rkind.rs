//! rkind: local Rudder clusters without Docker, with kind's commands.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use rudder_e2e::rkind::spec::{self, CreateFlags, DEFAULT_NAME};
use rudder_e2e::rkind::{self, CreateOptions, RkindError, state};

#[derive(Debug, Parser)]
#[command(
    name = "rkind",
    about = "Local Rudder clusters: nodes are network namespaces on a host bridge"
)]
struct Options {
    #[command(subcommand)]
    command: Top,
}

#[derive(Debug, Subcommand)]
enum Top {
    /// Create a cluster.
    Create {
        #[command(subcommand)]
        what: CreateWhat,
    },
    /// Delete a cluster.
    Delete {
        #[command(subcommand)]
        what: DeleteWhat,
    },
    /// List clusters, print a kubeconfig.
    Get {
        #[command(subcommand)]
        what: GetWhat,
    },
    /// Load an image archive into every node.
    Load {
        #[command(subcommand)]
        what: LoadWhat,
    },
    /// Export logs.
    Export {
        #[command(subcommand)]
        what: ExportWhat,
    },
}

#[derive(Debug, Subcommand)]
enum CreateWhat {
    Cluster {
        #[arg(long)]
        name: Option<String>,
        /// Worker nodes (default 3).
        #[arg(long)]
        nodes: Option<usize>,
        /// A kind-style config file (kind: Cluster, nodes, networking.kubeProxyMode).
        #[arg(long)]
        config: Option<PathBuf>,
        /// Run a real etcd behind the apiserver instead of the embedded store.
        #[arg(long)]
        etcd: bool,
        /// iptables (default) or nftables.
        #[arg(long)]
        proxy_mode: Option<String>,
        /// How long to wait for every node to be Ready, e.g. 60s.
        #[arg(long, default_value = "60")]
        wait: u64,
    },
}

#[derive(Debug, Subcommand)]
enum DeleteWhat {
    Cluster {
        #[arg(long, default_value = DEFAULT_NAME)]
        name: String,
    },
}

#[derive(Debug, Subcommand)]
enum GetWhat {
    Clusters,
    Kubeconfig {
        #[arg(long, default_value = DEFAULT_NAME)]
        name: String,
    },
}

#[derive(Debug, Subcommand)]
enum LoadWhat {
    ImageArchive {
        file: PathBuf,
        #[arg(long, default_value = DEFAULT_NAME)]
        name: String,
    },
}

#[derive(Debug, Subcommand)]
enum ExportWhat {
    Logs {
        dir: PathBuf,
        #[arg(long, default_value = DEFAULT_NAME)]
        name: String,
    },
}

async fn run(opts: Options) -> Result<(), RkindError> {
    match opts.command {
        Top::Create {
            what:
                CreateWhat::Cluster {
                    name,
                    nodes,
                    config,
                    etcd,
                    proxy_mode,
                    wait,
                },
        } => {
            let text = match &config {
                Some(p) => Some(std::fs::read_to_string(p).map_err(|e| {
                    RkindError::Spec(spec::SpecError::Config(format!("{}: {e}", p.display())))
                })?),
                None => None,
            };
            let flags = CreateFlags {
                name,
                nodes,
                config: config.map(|p| p.display().to_string()),
                etcd,
                proxy_mode,
            };
            let spec = spec::resolve(&flags, text.as_deref())?;
            rkind::preflight::require_root()?;
            eprintln!("Creating cluster {:?} with {} nodes ...", spec.name, spec.nodes);
            let started = Instant::now();
            let opts = CreateOptions {
                progress: true,
                wait: Duration::from_secs(wait),
            };
            let st = rkind::create(&spec, &opts).await?;
            eprintln!(
                "Cluster {:?} ready in {:.2}s.\n\nexport KUBECONFIG={}\nkubectl get nodes -o wide\n",
                spec.name,
                started.elapsed().as_secs_f64(),
                st.kubeconfig().display()
            );
            Ok(())
        }
        Top::Delete {
            what: DeleteWhat::Cluster { name },
        } => {
            eprintln!("Deleting cluster {name:?} ...");
            rkind::delete(&name).await
        }
        Top::Get {
            what: GetWhat::Clusters,
        } => {
            let names = state::list();
            if names.is_empty() {
                eprintln!("No rkind clusters found.");
            }
            for n in names {
                println!("{n}");
            }
            Ok(())
        }
        Top::Get {
            what: GetWhat::Kubeconfig { name },
        } => {
            let path = state::kubeconfig_path(&name);
            let text = std::fs::read_to_string(&path).map_err(|_| RkindError::NotFound(name.clone()))?;
            print!("{text}");
            Ok(())
        }
        Top::Load {
            what: LoadWhat::ImageArchive { file, name },
        } => {
            rkind::preflight::require_root()?;
            let st = state::State::load(&name)?.ok_or_else(|| RkindError::NotFound(name.clone()))?;
            rkind::images::load_archive(&st, &file)?;
            eprintln!(
                "Loaded {} into {} nodes of {name:?}.",
                file.display(),
                st.nodes.len()
            );
            Ok(())
        }
        Top::Export {
            what: ExportWhat::Logs { dir, name },
        } => {
            let out = rkind::logs::export(&name, &dir)?;
            eprintln!("Exported logs of {name:?} to {}", out.display());
            Ok(())
        }
    }
}

fn main() -> ExitCode {
    let opts = Options::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("ERROR: tokio runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(opts)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ERROR: {e}");
            ExitCode::FAILURE
        }
    }
}
