//! Upstream's list library: `isSorted`, `sum`, `min`, `max`, `indexOf`, `lastIndexOf`.

use std::cmp::Ordering;

use cel::common::types::{DYN_TYPE, LIST_TYPE};
use cel::common::value::CowVal;
use cel::{ExecutionError, Value};

use super::{give, no_overload, values};

pub(super) fn register(env: &mut cel::Env) -> Result<(), cel::DeclarationError> {
    env.add_member_overload("isSorted", "list_is_sorted", LIST_TYPE, vec![], is_sorted)?;
    env.add_member_overload("sum", "list_sum", LIST_TYPE, vec![], sum)?;
    env.add_member_overload("min", "list_min", LIST_TYPE, vec![], min)?;
    env.add_member_overload("max", "list_max", LIST_TYPE, vec![], max)?;
    env.add_member_overload("indexOf", "list_index_of", LIST_TYPE, vec![DYN_TYPE], index_of)?;
    env.add_member_overload(
        "lastIndexOf",
        "list_last_index_of",
        LIST_TYPE,
        vec![DYN_TYPE],
        last_index_of,
    )?;
    Ok(())
}

fn list(function: &str, args: &[Value]) -> Result<std::sync::Arc<Vec<Value>>, ExecutionError> {
    match args.first() {
        Some(Value::List(items)) => Ok(items.clone()),
        _ => Err(no_overload(function, args)),
    }
}

/// Orders two values of one comparable kind (ints, uints, doubles, strings, bools, bytes,
/// timestamps, durations); anything else is an overload error, as upstream's `comparable`.
fn compare(function: &str, a: &Value, b: &Value) -> Result<Ordering, ExecutionError> {
    let same_kind = std::mem::discriminant(a) == std::mem::discriminant(b);
    let comparable = matches!(
        a,
        Value::Int(_)
            | Value::UInt(_)
            | Value::Float(_)
            | Value::String(_)
            | Value::Bool(_)
            | Value::Bytes(_)
            | Value::Timestamp(_)
            | Value::Duration(_)
    );
    match a.partial_cmp(b) {
        Some(order) if same_kind && comparable => Ok(order),
        _ => Err(no_overload(function, &[a.clone(), b.clone()])),
    }
}

fn is_sorted<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let args = values(&args)?;
    let items = list("isSorted", &args)?;
    for pair in items.windows(2) {
        if compare("isSorted", &pair[0], &pair[1])? == Ordering::Greater {
            return give(Value::Bool(false));
        }
    }
    give(Value::Bool(true))
}

fn sum<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let args = values(&args)?;
    let items = list("sum", &args)?;
    let Some(first) = items.first() else {
        // Upstream's sum of an empty list is the zero of the element type; untyped here, so int.
        return give(Value::Int(0));
    };
    let total = items[1..]
        .iter()
        .try_fold(first.clone(), |acc, item| match (&acc, item) {
            (Value::Int(a), Value::Int(b)) => a
                .checked_add(*b)
                .map(Value::Int)
                .ok_or_else(|| ExecutionError::function_error("sum", "integer overflow")),
            (Value::UInt(a), Value::UInt(b)) => a
                .checked_add(*b)
                .map(Value::UInt)
                .ok_or_else(|| ExecutionError::function_error("sum", "unsigned integer overflow")),
            (Value::Float(a), Value::Float(b)) => Ok(Value::Float(a + b)),
            (Value::Duration(a), Value::Duration(b)) => a
                .checked_add(b)
                .map(Value::Duration)
                .ok_or_else(|| ExecutionError::function_error("sum", "duration overflow")),
            _ => Err(no_overload("sum", &[acc.clone(), item.clone()])),
        })?;
    give(total)
}

fn extreme(function: &str, args: Vec<CowVal<'_, '_>>, keep: Ordering) -> Result<Value, ExecutionError> {
    let args = values(&args)?;
    let items = list(function, &args)?;
    let Some(first) = items.first() else {
        return Err(ExecutionError::function_error(
            function,
            format!("{function} called on empty list"),
        ));
    };
    let mut best = first.clone();
    for item in &items[1..] {
        if compare(function, item, &best)? == keep {
            best = item.clone();
        }
    }
    Ok(best)
}

fn min<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    give(extreme("min", args, Ordering::Less)?)
}

fn max<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    give(extreme("max", args, Ordering::Greater)?)
}

fn position(args: Vec<CowVal<'_, '_>>, function: &str, last: bool) -> Result<Value, ExecutionError> {
    let args = values(&args)?;
    let items = list(function, &args)?;
    let Some(needle) = args.get(1) else {
        return Err(no_overload(function, &args));
    };
    let found = if last {
        items.iter().rposition(|i| i == needle)
    } else {
        items.iter().position(|i| i == needle)
    };
    Ok(Value::Int(found.map_or(-1, |i| i as i64)))
}

fn index_of<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    give(position(args, "indexOf", false)?)
}

fn last_index_of<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    give(position(args, "lastIndexOf", true)?)
}
