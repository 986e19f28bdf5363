//! Kubernetes' CEL libraries (upstream's `k8s.io/apiserver/pkg/cel/library`) that the standard
//! library and cel-go's extensions do not already give: list functions, regex `find`/`findAll`
//! and URLs. Each function converts its arguments to [`Value`]s, computes, and converts back.

mod lists;
mod regex;
mod urls;

use cel::common::value::{CowVal, Val};
use cel::{ExecutionError, Value};

pub(crate) fn register(env: &mut cel::Env) -> Result<(), cel::DeclarationError> {
    lists::register(env)?;
    regex::register(env)?;
    urls::register(env)?;
    Ok(())
}

/// The arguments of a call (receiver first) as values.
fn values(args: &[CowVal<'_, '_>]) -> Result<Vec<Value>, ExecutionError> {
    args.iter().map(|a| Value::try_from(a.as_ref())).collect()
}

/// A computed value as the interpreter's return type.
fn give<'b, 'v>(value: Value) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let val: Box<dyn Val> = value.try_into()?;
    Ok(CowVal::Owned(val))
}

fn no_overload(function: &str, args: &[Value]) -> ExecutionError {
    ExecutionError::no_such_member_overload(function, args.iter().map(|a| a.type_of().to_string()).collect())
}
