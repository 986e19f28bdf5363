//! Upstream's quantity library: `quantity(string)`, `isQuantity(string)`, and on a Quantity
//! `sign`, `isInteger`, `asInteger`, `asApproximateFloat`, `add`/`sub` (a Quantity or an int),
//! `isGreaterThan`, `isLessThan` and `compareTo`. Quantities are exact (nano-units, the parser
//! every component shares), so `quantity('1Gi') == quantity('1024Mi')` as upstream's `Equal`.

use cel::common::types::{INT_TYPE, STRING_TYPE, Type};
use cel::common::value::CowVal;
use cel::objects::Opaque;
use cel::{ExecutionError, Value};

use super::{arg, give, give_opaque, int_arg, ordering, text_arg, values};

const NANOS_PER_UNIT: i128 = 1_000_000_000;

/// Upstream's `resource.ErrFormatWrong`.
const FORMAT_WRONG: &str =
    "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";

/// A quantity in nano-units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Quantity {
    nanos: i128,
}

impl Opaque for Quantity {
    fn runtime_type_name(&self) -> &str {
        "kubernetes.Quantity"
    }
}

impl Quantity {
    fn parse(text: &str) -> Option<Quantity> {
        // Upstream's parser takes no surrounding space; ours trims, so refuse it first.
        if text.trim() != text {
            return None;
        }
        rudder_api::quantity::parse_nanos(text).map(|nanos| Quantity { nanos })
    }

    /// The value as an int64 when it is a whole number in range (upstream's `AsInt64`).
    fn as_int64(self) -> Option<i64> {
        if self.nanos % NANOS_PER_UNIT != 0 {
            return None;
        }
        i64::try_from(self.nanos / NANOS_PER_UNIT).ok()
    }

    fn plus(self, nanos: i128) -> Quantity {
        Quantity {
            nanos: self.nanos.saturating_add(nanos),
        }
    }
}

fn q() -> Type {
    Type::new_opaque_type("kubernetes.Quantity")
}

pub(super) fn register(env: &mut cel::Env) -> Result<(), cel::DeclarationError> {
    env.add_overload("quantity", "string_to_quantity", vec![STRING_TYPE], to_quantity)?;
    env.add_overload("isQuantity", "is_quantity_string", vec![STRING_TYPE], is_quantity)?;
    // Upstream declares `sign` as a global overload and documents it as a member.
    env.add_overload("sign", "quantity_sign", vec![q()], sign)?;
    env.add_member_overload("sign", "quantity_sign_member", q(), vec![], sign)?;
    let member = [
        (
            "isInteger",
            "quantity_is_integer",
            None,
            is_integer as cel::common::functions::Function,
        ),
        ("asInteger", "quantity_get_int", None, as_integer),
        ("asApproximateFloat", "quantity_get_float", None, as_float),
        ("add", "quantity_add", Some(q()), add),
        ("add", "quantity_add_int", Some(INT_TYPE), add),
        ("sub", "quantity_sub", Some(q()), sub),
        ("sub", "quantity_sub_int", Some(INT_TYPE), sub),
        ("isGreaterThan", "quantity_is_greater_than", Some(q()), greater),
        ("isLessThan", "quantity_is_less_than", Some(q()), less),
        ("compareTo", "quantity_compare_to", Some(q()), compare_to),
    ];
    for (name, id, other, op) in member {
        env.add_member_overload(name, id, q(), other.into_iter().collect(), op)?;
    }
    Ok(())
}

fn to_quantity<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let args = values(&args)?;
    let text = text_arg("quantity", &args, 0)?;
    let quantity =
        Quantity::parse(text).ok_or_else(|| ExecutionError::function_error("quantity", FORMAT_WRONG))?;
    give_opaque(quantity)
}

fn is_quantity<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let args = values(&args)?;
    give(Value::Bool(
        Quantity::parse(text_arg("isQuantity", &args, 0)?).is_some(),
    ))
}

fn one(function: &str, args: &[CowVal<'_, '_>]) -> Result<Quantity, ExecutionError> {
    let args = values(args)?;
    arg::<Quantity>(function, &args, 0).copied()
}

fn sign<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    give(Value::Int(one("sign", &args)?.nanos.signum() as i64))
}

fn is_integer<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    give(Value::Bool(one("isInteger", &args)?.as_int64().is_some()))
}

fn as_integer<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let value = one("asInteger", &args)?
        .as_int64()
        .ok_or_else(|| ExecutionError::function_error("asInteger", "cannot convert value to integer"))?;
    give(Value::Int(value))
}

fn as_float<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let q = one("asApproximateFloat", &args)?;
    give(Value::Float(q.nanos as f64 / NANOS_PER_UNIT as f64))
}

/// The receiver and the other operand (a Quantity, or an int of whole units) in nano-units.
fn pair(function: &str, args: &[CowVal<'_, '_>]) -> Result<(Quantity, i128), ExecutionError> {
    let args = values(args)?;
    let q = *arg::<Quantity>(function, &args, 0)?;
    let other = match arg::<Quantity>(function, &args, 1) {
        Ok(other) => other.nanos,
        Err(_) => i128::from(int_arg(function, &args, 1)?).saturating_mul(NANOS_PER_UNIT),
    };
    Ok((q, other))
}

fn add<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let (q, other) = pair("add", &args)?;
    give_opaque(q.plus(other))
}

fn sub<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let (q, other) = pair("sub", &args)?;
    give_opaque(q.plus(other.saturating_neg()))
}

fn greater<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let (q, other) = pair("isGreaterThan", &args)?;
    give(Value::Bool(q.nanos > other))
}

fn less<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let (q, other) = pair("isLessThan", &args)?;
    give(Value::Bool(q.nanos < other))
}

fn compare_to<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let (q, other) = pair("compareTo", &args)?;
    give(ordering(q.nanos.cmp(&other)))
}
