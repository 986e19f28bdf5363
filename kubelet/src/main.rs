//! kubelet: registers its node and runs pods on containerd through CRI.
use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let options = rudder_kubelet::options::Options::parse();
    rudder_component::telemetry::init(options.verbosity, false);
    let config = options.into_config()?;
    let shutdown = rudder_component::shutdown::Shutdown::on_signal()?;
    rudder_kubelet::run::run(config, shutdown).await?;
    Ok(())
}
