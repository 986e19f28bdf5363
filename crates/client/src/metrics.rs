//! Registering metric families in [`prometheus::default_registry()`] exactly once per process.

use prometheus::core::Collector;

/// Build `make()` and register it in the default registry. `None` (after a warning) if either
/// fails, so a metrics problem never takes a component down: callers skip recording then.
/// Call it from a `OnceLock` initialiser so each family is registered once.
pub(crate) fn register<C>(what: &str, make: impl FnOnce() -> prometheus::Result<C>) -> Option<C>
where
    C: Collector + Clone + 'static,
{
    let collector = match make() {
        Ok(collector) => collector,
        Err(error) => {
            tracing::warn!(metric = what, %error, "cannot create metric");
            return None;
        }
    };
    if let Err(error) = prometheus::register(Box::new(collector.clone())) {
        tracing::warn!(metric = what, %error, "cannot register metric");
        return None;
    }
    Some(collector)
}
