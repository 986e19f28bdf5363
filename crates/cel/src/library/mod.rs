//! Kubernetes' CEL libraries (upstream's `k8s.io/apiserver/pkg/cel/library`) that the standard
//! library and cel-go's extensions do not already give: list functions, regex `find`/`findAll`,
//! URLs, quantities, IP addresses and CIDRs, semantic versions and named formats. Each function
//! converts its arguments to [`Value`]s, computes, and converts back. The library types of their
//! own (Quantity, IP, CIDR, Semver, Format) are opaque values compared by their meaning.

mod bind;
mod cidr;
mod format;
mod ip;
mod lists;
mod quantity;
mod regex;
mod semver;
mod sets;
#[cfg(test)]
mod tests;
mod urls;

use cel::common::value::{CowVal, Val};
use cel::{ExecutionError, Value};

pub(crate) fn register(env: &mut cel::Env) -> Result<(), cel::DeclarationError> {
    bind::register(env)?;
    lists::register(env)?;
    regex::register(env)?;
    urls::register(env)?;
    quantity::register(env)?;
    ip::register(env)?;
    cidr::register(env)?;
    semver::register(env)?;
    format::register(env)?;
    sets::register(env)?;
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

/// The library value of type `T` a value holds, if it holds one.
fn opaque<T: cel::objects::Opaque>(value: &Value) -> Option<&T> {
    match value {
        Value::Opaque(o) => o.downcast_ref::<T>(),
        _ => None,
    }
}

/// Argument `index` as a library value of type `T`, or the overload error.
fn arg<'a, T: cel::objects::Opaque>(
    function: &str,
    args: &'a [Value],
    index: usize,
) -> Result<&'a T, ExecutionError> {
    args.get(index)
        .and_then(opaque::<T>)
        .ok_or_else(|| no_overload(function, args))
}

/// Argument `index` as a string, or the overload error.
fn text_arg<'a>(function: &str, args: &'a [Value], index: usize) -> Result<&'a str, ExecutionError> {
    match args.get(index) {
        Some(Value::String(s)) => Ok(s.as_str()),
        _ => Err(no_overload(function, args)),
    }
}

/// Argument `index` as an int, or the overload error.
fn int_arg(function: &str, args: &[Value], index: usize) -> Result<i64, ExecutionError> {
    match args.get(index) {
        Some(Value::Int(i)) => Ok(*i),
        _ => Err(no_overload(function, args)),
    }
}

/// A library value as the interpreter's return type.
fn give_opaque<'b, 'v>(value: impl cel::objects::Opaque) -> Result<CowVal<'b, 'v>, ExecutionError> {
    give(Value::Opaque(std::sync::Arc::new(value)))
}

/// An ordering as CEL's `compareTo` gives it: -1, 0 or 1.
fn ordering(order: std::cmp::Ordering) -> Value {
    Value::Int(order as i64)
}
