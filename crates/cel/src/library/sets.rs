//! cel-go's sets extension (enabled in Kubernetes since 1.29): `sets.contains(a, b)` (every
//! element of `b` is in `a`), `sets.equivalent(a, b)` (each contains the other) and
//! `sets.intersects(a, b)` (an element in both), on lists, with CEL equality.

use cel::common::types::LIST_TYPE;
use cel::common::value::CowVal;
use cel::{ExecutionError, Value};

use super::{give, no_overload, values};

pub(super) fn register(env: &mut cel::Env) -> Result<(), cel::DeclarationError> {
    env.add_overload(
        "sets.contains",
        "list_sets_contains_list",
        vec![LIST_TYPE, LIST_TYPE],
        contains,
    )?;
    env.add_overload(
        "sets.equivalent",
        "list_sets_equivalent_list",
        vec![LIST_TYPE, LIST_TYPE],
        equivalent,
    )?;
    env.add_overload(
        "sets.intersects",
        "list_sets_intersects_list",
        vec![LIST_TYPE, LIST_TYPE],
        intersects,
    )?;
    Ok(())
}

fn lists(function: &str, args: &[CowVal<'_, '_>]) -> Result<(Vec<Value>, Vec<Value>), ExecutionError> {
    let args = values(args)?;
    match args.as_slice() {
        [Value::List(a), Value::List(b)] => Ok((a.to_vec(), b.to_vec())),
        _ => Err(no_overload(function, &args)),
    }
}

fn holds_all(a: &[Value], b: &[Value]) -> bool {
    b.iter().all(|x| a.contains(x))
}

fn contains<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let (a, b) = lists("sets.contains", &args)?;
    give(Value::Bool(holds_all(&a, &b)))
}

fn equivalent<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let (a, b) = lists("sets.equivalent", &args)?;
    give(Value::Bool(holds_all(&a, &b) && holds_all(&b, &a)))
}

fn intersects<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let (a, b) = lists("sets.intersects", &args)?;
    give(Value::Bool(b.iter().any(|x| a.contains(x))))
}
