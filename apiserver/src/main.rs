use clap::Parser;
use rudder_apiserver::options::Options;
use rudder_component::shutdown::Shutdown;

fn main() -> std::process::ExitCode {
    let options = Options::parse();
    rudder_component::telemetry::init(options.verbosity, false);
    let kubelet = match options.kubelet.clone().into_config() {
        Ok(kubelet) => kubelet,
        Err(e) => {
            eprintln!("kube-apiserver: invalid configuration: {e}");
            return std::process::ExitCode::from(64);
        }
    };
    let config = match options.into_config() {
        Ok(config) => config,
        Err(e) => {
            eprintln!("kube-apiserver: invalid configuration: {e}");
            return std::process::ExitCode::from(64);
        }
    };
    // Deeply nested objects (OpenAPI schemas, user JSON) recurse; debug builds need more than
    // the 2 MiB default stack. Only touched pages count towards memory use.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_stack_size(8 << 20)
        .build();
    let runtime = match runtime {
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
    match runtime.block_on(rudder_apiserver::run_with(config, kubelet, shutdown)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kube-apiserver: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
