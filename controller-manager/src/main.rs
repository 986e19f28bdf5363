use clap::Parser;
use rudder_component::shutdown::Shutdown;
use rudder_controller_manager::options::Options;

fn main() -> std::process::ExitCode {
    let options = Options::parse();
    rudder_component::telemetry::init(options.verbosity, false);
    let config = match options.into_config() {
        Ok(config) => config,
        Err(e) => {
            eprintln!("kube-controller-manager: invalid configuration: {e}");
            return std::process::ExitCode::from(64);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("kube-controller-manager: cannot start the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        let shutdown =
            Shutdown::on_signal().map_err(|e| anyhow::anyhow!("cannot install signal handlers: {e}"))?;
        rudder_controller_manager::run(config, shutdown).await?;
        anyhow::Ok(())
    });
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kube-controller-manager: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
