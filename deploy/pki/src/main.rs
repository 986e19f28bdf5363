//! rudder-pki: see the library. Errors are one line on stderr and a non-zero exit.

use clap::Parser;
use clap::error::ErrorKind;
use rudder_pki::Options;

fn main() {
    let options = match Options::try_parse() {
        Ok(o) => o,
        Err(e) if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) => e.exit(),
        Err(e) => {
            // clap's message spans several lines (the error, its details, usage, a hint):
            // keep the error and its details, on one line.
            let text = e.to_string();
            let message: Vec<&str> = text
                .lines()
                .map(str::trim)
                .take_while(|l| !l.is_empty() && !l.starts_with("Usage:"))
                .collect();
            let message = message.join(" ");
            eprintln!("rudder-pki: {}", message.trim_start_matches("error: "));
            std::process::exit(2);
        }
    };
    let result = options
        .command
        .into_action()
        .map_err(anyhow::Error::from)
        .and_then(|action| rudder_pki::run(action).map_err(anyhow::Error::from));
    match result {
        Ok(text) => print!("{text}"),
        Err(e) => {
            eprintln!("rudder-pki: {e:#}");
            std::process::exit(1);
        }
    }
}
