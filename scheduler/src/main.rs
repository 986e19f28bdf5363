//! kube-scheduler: assigns pending pods to nodes through a plugin framework shaped like upstream's.

use clap::Parser;
use rudder_component::shutdown::Shutdown;
use rudder_scheduler::config::options::Options;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let options = Options::parse();
    rudder_component::telemetry::init(options.verbosity, false);
    let config = match options.into_config() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("kube-scheduler: {e}");
            std::process::exit(64);
        }
    };
    let shutdown = Shutdown::on_signal()?;
    rudder_scheduler::run::run(config, shutdown).await?;
    Ok(())
}
