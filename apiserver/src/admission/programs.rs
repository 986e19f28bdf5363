//! Compiled CEL programs of webhook matchConditions and policies, kept by expression so that a
//! write pays for compiling an expression once, not on every request (upstream compiles when
//! the configuration changes). Bounded: cleared when it grows past [`CAPACITY`] entries.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock};

use parking_lot::Mutex;
use rudder_cel::{Environment, Program};

const CAPACITY: usize = 4096;

type Key = (&'static [&'static str], String);

static PROGRAMS: LazyLock<Mutex<HashMap<Key, Arc<Program>>>> = LazyLock::new(Default::default);

/// `expression` compiled with `variables` declared, from the cache when it was seen before.
pub(crate) fn compile(expression: &str, variables: &'static [&'static str]) -> Result<Arc<Program>, String> {
    let key = (variables, expression.to_string());
    if let Some(program) = PROGRAMS.lock().get(&key) {
        return Ok(program.clone());
    }
    let env = Environment::kubernetes().map_err(|e| e.to_string())?;
    let program = Arc::new(
        env.compile(expression, variables)
            .map_err(|e| format!("compilation failed: {e}"))?,
    );
    let mut cache = PROGRAMS.lock();
    if cache.len() >= CAPACITY {
        cache.clear();
    }
    cache.insert(key, program.clone());
    Ok(program)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn programs_are_compiled_once() {
        const VARS: &[&str] = &["object"];
        let a = compile("object.x == 1 && true", VARS).expect("compiles");
        let b = compile("object.x == 1 && true", VARS).expect("compiles");
        assert!(Arc::ptr_eq(&a, &b));
        assert!(compile("object.x ==", VARS).is_err());
    }
}
