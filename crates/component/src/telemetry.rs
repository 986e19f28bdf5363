//! Logging set-up shared by every binary: `tracing` to stderr (where klog writes), text or JSON.
//!
//! The level follows upstream's `-v`/`--v` verbosity unless `RUST_LOG` is set, which then wins:
//!
//! | `-v`  | our crates | dependencies (hyper, h2, rustls, tower, ...) |
//! |-------|------------|----------------------------------------------|
//! | 0–2   | info       | warn                                         |
//! | 3–4   | debug      | info                                         |
//! | 5–7   | trace      | debug                                        |
//! | 8+    | trace      | trace                                        |
//!
//! klog's V(2) is "useful steady-state information", which `info` covers; V(4) is debug and V(5+)
//! trace, with V(8)+ dumping wire contents.

use tracing_subscriber::EnvFilter;

/// Dependencies whose logs are one step quieter than ours at a given verbosity.
const NOISY: &[&str] = &[
    "h2",
    "hyper",
    "hyper_util",
    "rustls",
    "tower",
    "tokio_rustls",
    "axum",
    "mio",
];

/// The `EnvFilter` directives used for `verbosity` when `RUST_LOG` is unset.
pub fn filter_directives(verbosity: u8) -> String {
    let (ours, deps) = match verbosity {
        0..=2 => ("info", "warn"),
        3..=4 => ("debug", "info"),
        5..=7 => ("trace", "debug"),
        _ => ("trace", "trace"),
    };
    let mut directives = ours.to_string();
    for dep in NOISY {
        directives.push_str(&format!(",{dep}={deps}"));
    }
    directives
}

/// Install the global `tracing` subscriber. Idempotent: a second call (or a subscriber installed
/// by someone else, e.g. a test harness) is left alone. Returns whether this call installed it.
pub fn init(verbosity: u8, json: bool) -> bool {
    let filter = match std::env::var("RUST_LOG") {
        Ok(value) if !value.trim().is_empty() => {
            EnvFilter::try_new(&value).unwrap_or_else(|_| EnvFilter::new(filter_directives(verbosity)))
        }
        _ => EnvFilter::new(filter_directives(verbosity)),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(true);
    let result = if json {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .try_init()
    } else {
        builder.try_init()
    };
    result.is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verbosity_maps_to_levels() {
        assert!(filter_directives(0).starts_with("info,"));
        assert!(filter_directives(2).contains("hyper=warn"));
        assert!(filter_directives(4).starts_with("debug,"));
        assert!(filter_directives(4).contains("rustls=info"));
        assert!(filter_directives(6).starts_with("trace,"));
        assert!(filter_directives(6).contains("h2=debug"));
        assert!(filter_directives(10).contains("h2=trace"));
        for v in [0, 3, 5, 9] {
            EnvFilter::try_new(filter_directives(v)).expect("directives parse");
        }
    }

    #[test]
    fn init_is_idempotent() {
        // Whichever call wins the race with other tests, later calls must not panic.
        let _ = init(2, false);
        assert!(!init(4, true));
        tracing::info!("logging works after repeated init");
    }
}
