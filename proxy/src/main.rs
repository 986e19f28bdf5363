//! kube-proxy: programs the node's packet filter from Services and EndpointSlices.

use clap::Parser;
use rudder_component::shutdown::Shutdown;
use rudder_proxy::config::Options;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let options = Options::parse();
    rudder_component::telemetry::init(options.verbosity, false);
    let config = match options.into_config() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("kube-proxy: {e}");
            std::process::exit(64);
        }
    };
    let shutdown = Shutdown::on_signal()?;
    rudder_proxy::run::run(config, shutdown).await
}
