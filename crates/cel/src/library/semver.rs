//! Upstream's semver library: `semver(string[, normalize])`, `isSemver(string[, normalize])`,
//! and on a Semver `major`, `minor`, `patch`, `isGreaterThan`, `isLessThan` and `compareTo`.
//! Versions compare by precedence (build metadata ignored), as blang/semver's `Compare`.

use std::cmp::Ordering;

use cel::common::types::{BOOL_TYPE, STRING_TYPE, Type};
use cel::common::value::CowVal;
use cel::objects::Opaque;
use cel::{ExecutionError, Value};

use super::{arg, give, give_opaque, ordering, text_arg, values};

/// A semantic version; equal when their precedence is.
#[derive(Debug, Clone)]
struct Semver(semver::Version);

impl PartialEq for Semver {
    fn eq(&self, other: &Semver) -> bool {
        self.0.cmp_precedence(&other.0) == Ordering::Equal
    }
}

impl Eq for Semver {}

impl Opaque for Semver {
    fn runtime_type_name(&self) -> &str {
        "kubernetes.Semver"
    }
}

/// Upstream's `normalizeAndParse`: no `v` prefix, no leading zeros, missing minor and patch
/// filled with 0.
fn normalize(s: &str) -> Result<String, String> {
    let s = s.strip_prefix('v').unwrap_or(s);
    let mut parts: Vec<String> = s
        .splitn(3, '.')
        .map(|p| {
            if p.len() <= 1 {
                return p.to_string();
            }
            let trimmed = p.trim_start_matches('0');
            if trimmed.starts_with(|c: char| c.is_ascii_digit()) {
                trimmed.to_string()
            } else {
                format!("0{trimmed}")
            }
        })
        .collect();
    if parts.len() < 3 {
        if parts.last().is_some_and(|p| p.contains(['+', '-'])) {
            return Err("short version cannot contain PreRelease/Build meta data".to_string());
        }
        parts.resize(3, "0".to_string());
    }
    Ok(parts.join("."))
}

fn parse(s: &str, normalized: bool) -> Result<Semver, String> {
    let text = if normalized { normalize(s)? } else { s.to_string() };
    semver::Version::parse(&text)
        .map(Semver)
        .map_err(|e| format!("{e} in {s:?}"))
}

fn semver_type() -> Type {
    Type::new_opaque_type("kubernetes.Semver")
}

pub(super) fn register(env: &mut cel::Env) -> Result<(), cel::DeclarationError> {
    env.add_overload("semver", "string_to_semver", vec![STRING_TYPE], to_semver)?;
    env.add_overload(
        "semver",
        "string_bool_to_semver",
        vec![STRING_TYPE, BOOL_TYPE],
        to_semver,
    )?;
    env.add_overload("isSemver", "is_semver_string", vec![STRING_TYPE], is_semver)?;
    env.add_overload(
        "isSemver",
        "is_semver_string_bool",
        vec![STRING_TYPE, BOOL_TYPE],
        is_semver,
    )?;
    let member: [(&str, &str, bool, cel::common::functions::Function); 6] = [
        ("major", "semver_major", false, major),
        ("minor", "semver_minor", false, minor),
        ("patch", "semver_patch", false, patch),
        ("isGreaterThan", "semver_is_greater_than", true, greater),
        ("isLessThan", "semver_is_less_than", true, less),
        ("compareTo", "semver_compare_to", true, compare_to),
    ];
    for (name, id, binary, op) in member {
        let other = if binary { vec![semver_type()] } else { vec![] };
        env.add_member_overload(name, id, semver_type(), other, op)?;
    }
    Ok(())
}

fn parsed(function: &str, args: &[CowVal<'_, '_>]) -> Result<Result<Semver, String>, ExecutionError> {
    let args = values(args)?;
    let text = text_arg(function, &args, 0)?;
    let normalized = matches!(args.get(1), Some(Value::Bool(true)));
    Ok(parse(text, normalized))
}

fn to_semver<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let version = parsed("semver", &args)?.map_err(|e| ExecutionError::function_error("semver", e))?;
    give_opaque(version)
}

fn is_semver<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    give(Value::Bool(parsed("isSemver", &args)?.is_ok()))
}

fn part(
    function: &str,
    args: &[CowVal<'_, '_>],
    get: fn(&semver::Version) -> u64,
) -> Result<Value, ExecutionError> {
    let args = values(args)?;
    let v = arg::<Semver>(function, &args, 0)?;
    i64::try_from(get(&v.0))
        .map(Value::Int)
        .map_err(|_| ExecutionError::function_error(function, "integer overflow"))
}

fn major<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    give(part("major", &args, |v| v.major)?)
}

fn minor<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    give(part("minor", &args, |v| v.minor)?)
}

fn patch<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    give(part("patch", &args, |v| v.patch)?)
}

fn order(function: &str, args: &[CowVal<'_, '_>]) -> Result<Ordering, ExecutionError> {
    let args = values(args)?;
    let a = arg::<Semver>(function, &args, 0)?;
    let b = arg::<Semver>(function, &args, 1)?;
    Ok(a.0.cmp_precedence(&b.0))
}

fn greater<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    give(Value::Bool(order("isGreaterThan", &args)? == Ordering::Greater))
}

fn less<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    give(Value::Bool(order("isLessThan", &args)? == Ordering::Less))
}

fn compare_to<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    give(ordering(order("compareTo", &args)?))
}
