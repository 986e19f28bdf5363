//! Upstream's regex library: `find` (the first match, or `""`) and `findAll` (every match, or
//! at most `n` of them when `n` is not negative).

use std::sync::Arc;

use cel::common::types::{INT_TYPE, STRING_TYPE};
use cel::common::value::CowVal;
use cel::{ExecutionError, Value};

use super::{give, no_overload, values};

pub(super) fn register(env: &mut cel::Env) -> Result<(), cel::DeclarationError> {
    env.add_member_overload("find", "string_find_string", STRING_TYPE, vec![STRING_TYPE], find)?;
    env.add_member_overload(
        "findAll",
        "string_find_all_string",
        STRING_TYPE,
        vec![STRING_TYPE],
        find_all,
    )?;
    env.add_member_overload(
        "findAll",
        "string_find_all_string_int",
        STRING_TYPE,
        vec![STRING_TYPE, INT_TYPE],
        find_all,
    )?;
    Ok(())
}

fn compile(function: &str, pattern: &str) -> Result<regex::Regex, ExecutionError> {
    regex::Regex::new(pattern).map_err(|e| ExecutionError::function_error(function, e))
}

fn find<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let args = values(&args)?;
    let (Some(Value::String(s)), Some(Value::String(pattern))) = (args.first(), args.get(1)) else {
        return Err(no_overload("find", &args));
    };
    let found = compile("find", pattern)?
        .find(s)
        .map(|m| m.as_str().to_string())
        .unwrap_or_default();
    give(Value::String(Arc::new(found)))
}

fn find_all<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let args = values(&args)?;
    let (Some(Value::String(s)), Some(Value::String(pattern))) = (args.first(), args.get(1)) else {
        return Err(no_overload("findAll", &args));
    };
    let limit = match args.get(2) {
        Some(Value::Int(n)) if *n >= 0 => usize::try_from(*n).unwrap_or(usize::MAX),
        Some(Value::Int(_)) | None => usize::MAX,
        Some(_) => return Err(no_overload("findAll", &args)),
    };
    let found: Vec<Value> = compile("findAll", pattern)?
        .find_iter(s)
        .take(limit)
        .map(|m| Value::String(Arc::new(m.as_str().to_string())))
        .collect();
    give(Value::List(Arc::new(found)))
}
