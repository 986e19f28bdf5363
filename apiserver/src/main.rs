use clap::Parser;
use rudder_apiserver::options::Options;
use rudder_component::shutdown::Shutdown;

fn main() -> std::process::ExitCode {
    let options = Options::parse();
    rudder_component::telemetry::init(options.verbosity, false);
    let config = match options.into_config() {
        Ok(config) => config,
        Err(e) => {
            eprintln!("kube-apiserver: invalid configuration: {e}");
            return std::process::ExitCode::from(64);
        }
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("kube-apiserver: cannot start the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let shutdown = match runtime.block_on(async { Shutdown::on_signal() }) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("kube-apiserver: cannot install signal handlers: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(rudder_apiserver::run(config, shutdown)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kube-apiserver: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
