//! CEL for Rudder: the `cel` crate (cel-rust) with what Kubernetes' expressions use on top of the
//! CEL standard library (upstream's `k8s.io/apiserver/pkg/cel/library`), values built from JSON as
//! an OpenAPI schema types them, compile-time checks of the names an expression uses, and a cost
//! limit.
//!
//! The API is generic: compile an expression against named variables, then evaluate it with those
//! variables bound to [`Value`]s (built with [`from_json`]) to a value or an error. CRD validation
//! rules and admission policies both sit on it.
//!
//! ```
//! use rudder_cel::{Environment, TypeHint, from_json};
//! let env = Environment::kubernetes().unwrap();
//! let program = env.compile("self.min <= self.max", &["self"]).unwrap();
//! let value = from_json(&serde_json::json!({"min": 1, "max": 3}), &TypeHint::Dynamic);
//! let out = program.evaluate(&[("self", &value)], 1_000_000).unwrap();
//! assert_eq!(out.value, rudder_cel::Value::Bool(true));
//! ```

mod check;
mod convert;
mod cost;
mod error;
mod library;
mod types;

use std::collections::BTreeSet;
use std::sync::{Arc, OnceLock};

pub use cel::Value;
pub use convert::{TypeHint, escape_field_name, from_json};
pub use error::{CompileError, EvalError, SetupError};

/// Upstream's cost limit of one expression evaluation (`PerCallLimit`).
pub const PER_CALL_LIMIT: u64 = 1_000_000;

/// Upstream's cost budget of all the rules run while validating one object
/// (`RuntimeCELCostBudget`).
pub const RUNTIME_COST_BUDGET: u64 = 10_000_000;

/// A CEL optional value: `optional.of(v)` or `optional.none()` (how `oldSelf` is bound for a
/// rule with `optionalOldSelf`).
pub fn optional(value: Option<Value>) -> Value {
    let opt = match value {
        Some(v) => cel::objects::OptionalValue::of(v),
        None => cel::objects::OptionalValue::none(),
    };
    Value::Opaque(Arc::new(opt))
}

/// The CEL environment: the standard library, cel-go's strings, lists and math extensions, and
/// Kubernetes' list, regex and URL libraries.
#[derive(Clone)]
pub struct Environment {
    env: Arc<cel::Env>,
}

impl std::fmt::Debug for Environment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Environment").finish_non_exhaustive()
    }
}

impl Environment {
    /// Builds a new environment.
    pub fn new() -> Result<Environment, SetupError> {
        let mut env = cel::Env::stdlib();
        env.add_extension(cel::extensions::strings)?;
        env.add_extension(cel::extensions::lists)?;
        env.add_extension(cel::extensions::math)?;
        library::register(&mut env)?;
        Ok(Environment { env: Arc::new(env) })
    }

    /// The one environment of the process, built on first use.
    pub fn kubernetes() -> Result<&'static Environment, SetupError> {
        static SHARED: OnceLock<Result<Environment, SetupError>> = OnceLock::new();
        SHARED
            .get_or_init(Environment::new)
            .as_ref()
            .map_err(Clone::clone)
    }

    /// Parses `source` and checks that it names only the given variables (and the names its
    /// macros bind), as upstream's compiler does before any evaluation.
    pub fn compile(&self, source: &str, variables: &[&str]) -> Result<Program, CompileError> {
        let untyped: Vec<(&str, Option<&TypeHint>)> = variables.iter().map(|v| (*v, None)).collect();
        self.compile_checked(source, &untyped)
    }

    /// Like [`Environment::compile`], with each variable's type: fields selected on an object
    /// type that does not declare them are refused (`undefined field 'x'`), as cel-go's checker
    /// refuses them.
    pub fn compile_typed(
        &self,
        source: &str,
        variables: &[(&str, &TypeHint)],
    ) -> Result<Program, CompileError> {
        let typed: Vec<(&str, Option<&TypeHint>)> = variables.iter().map(|(v, t)| (*v, Some(*t))).collect();
        self.compile_checked(source, &typed)
    }

    fn compile_checked(
        &self,
        source: &str,
        variables: &[(&str, Option<&TypeHint>)],
    ) -> Result<Program, CompileError> {
        let program = self
            .env
            .compile(source)
            // cel-go indents the source line and caret under an issue by one space.
            .map_err(|e| CompileError::Syntax(e.to_string().replace("\n| ", "\n | ")))?;
        let used = check::check(source, &program, variables)?;
        let mut checker = types::Checker::new(variables);
        check::undeclared_functions(&self.env, program.expression(), &mut checker.errors);
        let result = checker.infer(program.expression());
        if !checker.errors.is_empty() {
            let issues: Vec<String> = checker
                .errors
                .iter()
                .map(|(id, message)| {
                    let at = program.source_info().offset_for(*id).map(|(start, _)| start);
                    check::issue(source, at, message)
                })
                .collect();
            return Err(CompileError::Check(issues.join("\n")));
        }
        Ok(Program {
            source: source.to_string(),
            program,
            used,
            result,
            env: self.env.clone(),
        })
    }
}

/// A compiled expression.
pub struct Program {
    source: String,
    program: cel::Program,
    used: BTreeSet<String>,
    /// The result's type as far as the checker knows it.
    result: types::Ty,
    env: Arc<cel::Env>,
}

impl std::fmt::Debug for Program {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Program")
            .field("source", &self.source)
            .field("used", &self.used)
            .finish_non_exhaustive()
    }
}

/// The result of one evaluation, and what it cost.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    pub value: Value,
    pub cost: u64,
}

impl Program {
    /// The expression as written.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Whether the result is plainly not a bool (a literal, list, map or arithmetic), which
    /// a rule that must evaluate to a bool is refused for at compile time.
    pub fn plainly_not_bool(&self) -> bool {
        check::plainly_not_bool(self.program.expression())
            || !matches!(self.result, types::Ty::Bool | types::Ty::Dyn)
    }

    /// Whether the result is plainly not a string (a message expression must give one).
    pub fn plainly_not_string(&self) -> bool {
        check::plainly_not_string(self.program.expression())
            || !matches!(self.result, types::Ty::String | types::Ty::Dyn)
    }

    /// Whether the expression reads the variable `name` (a transition rule reads `oldSelf`).
    pub fn uses(&self, name: &str) -> bool {
        self.used.contains(name)
    }

    /// The cost the expression could reach on the given values: every node once, loops as many
    /// times as the largest list or map among the values, string functions by the longest
    /// string. An upper bound of cel-go's actual cost, computed before running so that an
    /// expression over the limit never runs.
    pub fn cost(&self, variables: &[(&str, &Value)]) -> u64 {
        let sizes = cost::Sizes::of(variables.iter().map(|(_, v)| *v));
        cost::estimate(self.program.expression(), &sizes)
    }

    /// Evaluates the expression with `variables` bound, refusing one whose cost exceeds `limit`.
    pub fn evaluate(&self, variables: &[(&str, &Value)], limit: u64) -> Result<Evaluation, EvalError> {
        let cost = self.cost(variables);
        if cost > limit {
            return Err(EvalError::CostLimitExceeded { cost, limit });
        }
        let mut context = cel::Context::with_env(self.env.clone());
        for (name, value) in variables {
            let val: Box<dyn cel::common::value::Val> =
                (*value).clone().try_into().map_err(EvalError::from)?;
            context.add_variable_as_val(*name, val);
        }
        let value = self.program.execute(&context).map_err(EvalError::from)?;
        Ok(Evaluation { value, cost })
    }
}

#[cfg(test)]
mod tests;
