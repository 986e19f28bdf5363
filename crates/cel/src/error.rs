//! Errors of building the environment, compiling and evaluating, worded as cel-go words them
//! (upstream's messages quote these texts).

use cel::ExecutionError;

/// The environment could not be built (a library declared a function twice).
#[derive(Debug, Clone, thiserror::Error)]
#[error("CEL environment setup failed: {0}")]
pub struct SetupError(String);

impl From<cel::DeclarationError> for SetupError {
    fn from(e: cel::DeclarationError) -> Self {
        SetupError(e.to_string())
    }
}

/// Why an expression did not compile. The text is cel-go's issue list
/// (`ERROR: <input>:1:5: ...` with the source line and a caret).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CompileError {
    #[error("{0}")]
    Syntax(String),
    #[error("{0}")]
    Check(String),
}

/// Why an evaluation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EvalError {
    /// The expression would cost more than its limit; it was not run.
    #[error("operation cancelled: actual cost limit exceeded")]
    CostLimitExceeded { cost: u64, limit: u64 },
    /// A function or operator was applied to arguments it has no overload for (what cel-go's
    /// checker catches at compile time for typed values; dynamic values reach it at run time).
    #[error("no such overload")]
    NoSuchOverload { detail: String },
    /// Any other runtime error: `no such key: x`, `division by zero`, `index out of bounds: 3`.
    #[error("{0}")]
    Runtime(String),
}

impl From<ExecutionError> for EvalError {
    fn from(e: ExecutionError) -> Self {
        let text = match e {
            ExecutionError::NoSuchOverload(o) => {
                return EvalError::NoSuchOverload {
                    detail: o.to_string(),
                };
            }
            ExecutionError::UnexpectedType { got, want } => {
                return EvalError::NoSuchOverload {
                    detail: format!("got '{got}', want '{want}'"),
                };
            }
            ExecutionError::UnsupportedBinaryOperator(op, a, b) => {
                return EvalError::NoSuchOverload {
                    detail: format!("'{op}' applied to {a:?}, {b:?}"),
                };
            }
            ExecutionError::ValuesNotComparable(a, b) => {
                return EvalError::NoSuchOverload {
                    detail: format!("{a:?} can not be compared to {b:?}"),
                };
            }
            ExecutionError::NoSuchKey(key) => format!("no such key: {key}"),
            ExecutionError::DivisionByZero(_) => "division by zero".to_string(),
            ExecutionError::RemainderByZero(_) => "modulus by zero".to_string(),
            ExecutionError::Overflow(..) => "integer overflow".to_string(),
            ExecutionError::IndexOutOfBounds(i) => format!("index out of bounds: {}", show(&i)),
            ExecutionError::UndeclaredReference(name) => format!("no such attribute: {name}"),
            ExecutionError::FunctionError { message, .. } => message,
            other => other.to_string(),
        };
        EvalError::Runtime(text)
    }
}

/// A scalar as CEL prints it in messages (`3`, `"a"`), anything else as debug output.
fn show(v: &cel::Value) -> String {
    match v {
        cel::Value::Int(i) => i.to_string(),
        cel::Value::UInt(u) => u.to_string(),
        cel::Value::String(s) => format!("{s:?}"),
        other => format!("{other:?}"),
    }
}
