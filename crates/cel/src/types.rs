//! A small type checker for what cel-rust leaves unchecked: the types of literals, of typed
//! variables and their fields, and of what operators and common functions give, so that an
//! operator applied to operands no overload takes (`self.replicas <= 'a'`,
//! `self.name && true`) is refused at compile time as cel-go's checker refuses it:
//! `found no matching overload for '_<=_' applied to '(int, string)'`.
//!
//! It only ever refuses what it knows: an operand of unknown type (`dyn`: an untyped variable, an
//! int-or-string, a function it does not model) matches everything, and only scalar operand
//! types are judged, so it never refuses what cel-go accepts.

use cel::common::ast::{Expr, IdedExpr, LiteralValue};

use crate::TypeHint;

/// What the checker knows of an expression's type.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Ty {
    Dyn,
    Bool,
    Int,
    Uint,
    Double,
    String,
    Bytes,
    Null,
    Timestamp,
    Duration,
    List(Box<Ty>),
    Map(Box<Ty>),
    /// A schema object (its fields are checked by the name check).
    Object(TypeHint),
}

impl Ty {
    fn of_hint(hint: &TypeHint) -> Ty {
        match hint {
            TypeHint::Dynamic | TypeHint::IntOrString => Ty::Dyn,
            TypeHint::Bool => Ty::Bool,
            TypeHint::Int => Ty::Int,
            TypeHint::Double => Ty::Double,
            TypeHint::String => Ty::String,
            TypeHint::Timestamp => Ty::Timestamp,
            TypeHint::Duration => Ty::Duration,
            TypeHint::Bytes => Ty::Bytes,
            TypeHint::List(item) => Ty::List(Box::new(Ty::of_hint(item))),
            TypeHint::Map(item) => Ty::Map(Box::new(Ty::of_hint(item))),
            TypeHint::Object { .. } => Ty::Object(hint.clone()),
        }
    }

    /// cel-go's name of a scalar type; None for the types this checker does not judge.
    fn scalar_name(&self) -> Option<&'static str> {
        Some(match self {
            Ty::Bool => "bool",
            Ty::Int => "int",
            Ty::Uint => "uint",
            Ty::Double => "double",
            Ty::String => "string",
            Ty::Bytes => "bytes",
            Ty::Null => "null_type",
            Ty::Timestamp => "google.protobuf.Timestamp",
            Ty::Duration => "google.protobuf.Duration",
            _ => return None,
        })
    }

    fn numeric(&self) -> bool {
        matches!(self, Ty::Int | Ty::Uint | Ty::Double)
    }
}

/// The operators [`binary`] judges.
const BINARY: &[&str] = &[
    "_+_", "_-_", "_*_", "_/_", "_%_", "_<_", "_<=_", "_>_", "_>=_", "_==_", "_!=_", "_&&_", "_||_",
];

/// Which scalar operand pairs an operator takes, and what it gives.
fn binary(op: &str, a: &Ty, b: &Ty) -> Option<Ty> {
    use Ty::*;
    let same = a == b;
    match op {
        "_+_" => match (a, b) {
            (Timestamp, Duration) | (Duration, Timestamp) => Some(Timestamp),
            (Int | Uint | Double | String | Bytes | Duration, _) if same => Some(a.clone()),
            _ => None,
        },
        "_-_" => match (a, b) {
            (Timestamp, Timestamp) => Some(Duration),
            (Timestamp, Duration) => Some(Timestamp),
            (Int | Uint | Double | Duration, _) if same => Some(a.clone()),
            _ => None,
        },
        "_*_" | "_/_" => (same && a.numeric()).then(|| a.clone()),
        "_%_" => (same && matches!(a, Int | Uint)).then(|| a.clone()),
        "_<_" | "_<=_" | "_>_" | "_>=_" => {
            let ordered = matches!(a, String | Bytes | Bool | Timestamp | Duration);
            ((a.numeric() && b.numeric()) || (same && ordered)).then_some(Bool)
        }
        "_==_" | "_!=_" => (same || (a.numeric() && b.numeric()) || *a == Null || *b == Null).then_some(Bool),
        "_&&_" | "_||_" => (*a == Bool && *b == Bool).then_some(Bool),
        _ => None,
    }
}

/// What a known function gives, whatever its operands.
fn result_of(function: &str) -> Option<Ty> {
    Some(match function {
        "size" | "int" | "indexOf" | "lastIndexOf" | "compareTo" | "sign" => Ty::Int,
        "uint" => Ty::Uint,
        "double" => Ty::Double,
        "string" | "lowerAscii" | "upperAscii" | "trim" | "replace" | "substring" | "charAt" | "join"
        | "format" | "quote" => Ty::String,
        "bytes" => Ty::Bytes,
        "bool" | "startsWith" | "endsWith" | "contains" | "matches" | "@in" | "isSorted" | "isQuantity"
        | "isIP" | "isCIDR" | "isSemver" | "isURL" | "isGreaterThan" | "isLessThan" | "!_" => Ty::Bool,
        "timestamp" => Ty::Timestamp,
        "duration" => Ty::Duration,
        "split" => Ty::List(Box::new(Ty::String)),
        _ => return None,
    })
}

/// Infers types bottom-up, collecting (node id, message) for operators no overload takes.
pub(crate) struct Checker<'a> {
    variables: &'a [(&'a str, Option<&'a TypeHint>)],
    scopes: Vec<(String, Ty)>,
    pub(crate) errors: Vec<(u64, String)>,
}

impl<'a> Checker<'a> {
    pub(crate) fn new(variables: &'a [(&'a str, Option<&'a TypeHint>)]) -> Checker<'a> {
        Checker {
            variables,
            scopes: Vec::new(),
            errors: Vec::new(),
        }
    }

    pub(crate) fn infer(&mut self, e: &IdedExpr) -> Ty {
        match &e.expr {
            Expr::Literal(lit) => match lit {
                LiteralValue::Boolean(_) => Ty::Bool,
                LiteralValue::Bytes(_) => Ty::Bytes,
                LiteralValue::Double(_) => Ty::Double,
                LiteralValue::Int(_) => Ty::Int,
                LiteralValue::Null => Ty::Null,
                LiteralValue::String(_) => Ty::String,
                LiteralValue::UInt(_) => Ty::Uint,
            },
            Expr::Ident(name) => self.ident(name),
            Expr::Select(select) => {
                let operand = self.infer(&select.operand);
                if select.test {
                    return Ty::Bool;
                }
                match operand {
                    Ty::Object(TypeHint::Object { fields, .. }) => fields
                        .iter()
                        .find(|(k, _)| crate::escape_field_name(k).as_deref() == Some(select.field.as_str()))
                        .map_or(Ty::Dyn, |(_, t)| Ty::of_hint(t)),
                    Ty::Map(item) => *item,
                    _ => Ty::Dyn,
                }
            }
            Expr::Call(call) => {
                let target = call.target.as_ref().map(|t| self.infer(t));
                let args: Vec<Ty> = call.args.iter().map(|a| self.infer(a)).collect();
                self.call(e.id, &call.func_name, target, &args)
            }
            Expr::List(list) => {
                let items: Vec<Ty> = list.elements.iter().map(|i| self.infer(i)).collect();
                let item = match items.split_first() {
                    Some((first, rest)) if rest.iter().all(|t| t == first) => first.clone(),
                    _ => Ty::Dyn,
                };
                Ty::List(Box::new(item))
            }
            Expr::Map(map) => {
                for entry in &map.entries {
                    if let cel::common::ast::EntryExpr::MapEntry(m) = &entry.expr {
                        self.infer(&m.key);
                        self.infer(&m.value);
                    }
                }
                Ty::Map(Box::new(Ty::Dyn))
            }
            Expr::Struct(_) | Expr::Unspecified => Ty::Dyn,
            Expr::Comprehension(c) => {
                let range = self.infer(&c.iter_range);
                let accu = self.infer(&c.accu_init);
                let item = match (&c.iter_var2, range) {
                    (None, Ty::List(item)) => *item,
                    (None, Ty::Map(_) | Ty::Object(_)) => Ty::String,
                    _ => Ty::Dyn,
                };
                let before = self.scopes.len();
                self.scopes.push((c.iter_var.clone(), item));
                if let Some(second) = &c.iter_var2 {
                    self.scopes.push((second.clone(), Ty::Dyn));
                }
                // A bool accumulator (all, exists) stays a bool and a list (map, filter) a list;
                // others are judged loosely.
                let accu = match accu {
                    Ty::Bool => Ty::Bool,
                    Ty::List(_) => Ty::List(Box::new(Ty::Dyn)),
                    _ => Ty::Dyn,
                };
                self.scopes.push((c.accu_var.clone(), accu));
                self.infer(&c.loop_cond);
                self.infer(&c.loop_step);
                let result = self.infer(&c.result);
                self.scopes.truncate(before);
                result
            }
        }
    }

    fn ident(&self, name: &str) -> Ty {
        if let Some((_, t)) = self.scopes.iter().rev().find(|(s, _)| s == name) {
            return t.clone();
        }
        self.variables
            .iter()
            .find(|(v, _)| *v == name)
            .and_then(|(_, t)| *t)
            .map_or(Ty::Dyn, Ty::of_hint)
    }

    fn call(&mut self, id: u64, function: &str, target: Option<Ty>, args: &[Ty]) -> Ty {
        match (function, target.as_ref(), args) {
            ("!_", None, [a]) => self.judge(id, function, &[a], (*a == Ty::Bool).then_some(Ty::Bool)),
            ("-_", None, [a]) => {
                let ok = matches!(a, Ty::Int | Ty::Double | Ty::Duration);
                self.judge(id, function, &[a], ok.then(|| a.clone()))
            }
            ("_?_:_", None, [c, a, b]) => {
                self.judge(id, function, &[c], (*c == Ty::Bool).then(|| a.clone()));
                if a == b { a.clone() } else { Ty::Dyn }
            }
            ("_[_]", None, [container, _]) => match container {
                Ty::List(item) | Ty::Map(item) => (**item).clone(),
                _ => Ty::Dyn,
            },
            (op, None, [a, b]) if BINARY.contains(&op) => {
                let result = binary(op, a, b);
                self.judge(id, op, &[a, b], result)
            }
            _ => result_of(function).unwrap_or(Ty::Dyn),
        }
    }

    /// Records an operator whose known scalar operands no overload takes; the result type.
    fn judge(&mut self, id: u64, function: &str, operands: &[&Ty], result: Option<Ty>) -> Ty {
        if let Some(result) = result {
            return result;
        }
        let names: Option<Vec<&str>> = operands.iter().map(|t| t.scalar_name()).collect();
        if let Some(names) = names {
            self.errors.push((
                id,
                format!(
                    "found no matching overload for '{function}' applied to '({})'",
                    names.join(", ")
                ),
            ));
        }
        result_of(function).unwrap_or(Ty::Dyn)
    }
}

#[cfg(test)]
#[path = "types_tests.rs"]
mod tests;
