//! rudder-dns: the cluster DNS add-on, serving cluster.local from Services and EndpointSlices.

use clap::Parser;
use rudder_component::shutdown::Shutdown;
use rudder_dns::Options;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let options = Options::parse();
    rudder_component::telemetry::init(options.verbosity, false);
    let resolv_conf = std::fs::read_to_string("/etc/resolv.conf").ok();
    let config = match options.into_config(resolv_conf.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("rudder-dns: {e}");
            std::process::exit(64);
        }
    };
    let shutdown = Shutdown::on_signal()?;
    rudder_dns::run(config, shutdown).await?;
    Ok(())
}
