//! The compile-time checks cel-rust leaves to us (it has no type checker): every identifier is
//! a declared variable, a name a macro binds, a type name or a library namespace; an expression
//! whose result is plainly not a bool is refused where a bool is needed (see `lib.rs`). Errors
//! are worded and located as cel-go's checker words them.

use std::collections::BTreeSet;

use cel::common::ast::{EntryExpr, Expr, IdedExpr};

use crate::{CompileError, TypeHint, escape_field_name};

/// Names that resolve without a declaration: types, and the namespaces of library functions.
const BUILTIN_NAMES: &[&str] = &[
    "bool",
    "bytes",
    "double",
    "duration",
    "dyn",
    "int",
    "list",
    "map",
    "null_type",
    "string",
    "timestamp",
    "type",
    "uint",
    "math",
    "strings",
    "lists",
    "base64",
    "optional",
    "sets",
    "cel",
    "google",
    "format",
    "ip",
];

/// Checks `program`, returning the declared variables it reads. Variables with a type hint
/// also have the fields the expression selects on them checked.
pub(crate) fn check(
    source: &str,
    program: &cel::Program,
    variables: &[(&str, Option<&TypeHint>)],
) -> Result<BTreeSet<String>, CompileError> {
    let mut walker = Walker {
        variables,
        scopes: Vec::new(),
        used: BTreeSet::new(),
        undeclared: Vec::new(),
    };
    walker.expr(program.expression());
    if walker.undeclared.is_empty() {
        return Ok(walker.used);
    }
    let mut seen = BTreeSet::new();
    let issues: Vec<String> = walker
        .undeclared
        .iter()
        .filter(|(id, _)| seen.insert(*id))
        .map(|(id, message)| {
            let at = program.source_info().offset_for(*id).map(|(start, _)| start);
            issue(source, at, message)
        })
        .collect();
    Err(CompileError::Check(issues.join("\n")))
}

/// One issue as cel-go prints it: `ERROR: <input>:L:C: message`, the source line and a caret.
/// `at` is the character offset of the offending node.
pub(crate) fn issue(source: &str, at: Option<u32>, message: &str) -> String {
    let offset = at.unwrap_or(0) as usize;
    let mut line = 0;
    let mut column = 0;
    for (i, c) in source.chars().enumerate() {
        if i == offset {
            break;
        }
        if c == '\n' {
            line += 1;
            column = 0;
        } else {
            column += 1;
        }
    }
    let mut out = format!("ERROR: <input>:{}:{}: {message}", line + 1, column + 1);
    if let Some(text) = source.lines().nth(line) {
        out.push_str(&format!("\n | {text}\n | {}^", ".".repeat(column)));
    }
    out
}

static STRING: TypeHint = TypeHint::String;

struct Walker<'a> {
    variables: &'a [(&'a str, Option<&'a TypeHint>)],
    /// Names macros bind, innermost last, with the type of a list's items where known.
    scopes: Vec<(String, Option<&'a TypeHint>)>,
    used: BTreeSet<String>,
    undeclared: Vec<(u64, String)>,
}

impl<'a> Walker<'a> {
    fn ident(&mut self, id: u64, name: &str) {
        if self.scopes.iter().any(|(s, _)| s == name) {
            return;
        }
        if self.variables.iter().any(|(v, _)| *v == name) {
            self.used.insert(name.to_string());
        } else if !BUILTIN_NAMES.contains(&name) && !name.starts_with('@') {
            self.undeclared
                .push((id, format!("undeclared reference to '{name}' (in container '')")));
        }
    }

    /// The type of an expression where it is known: a typed variable and the fields selected
    /// on it. Reports a field an object type does not declare, as cel-go's checker does.
    fn type_of(&mut self, e: &IdedExpr) -> Option<&'a TypeHint> {
        match &e.expr {
            Expr::Ident(name) => match self.scopes.iter().rev().find(|(s, _)| s == name) {
                Some((_, t)) => *t,
                None => self
                    .variables
                    .iter()
                    .find(|(v, _)| v == name)
                    .and_then(|(_, t)| *t),
            },
            Expr::Select(select) => {
                let operand = self.type_of(&select.operand)?;
                match operand {
                    TypeHint::Object {
                        fields,
                        preserve_unknown,
                    } => {
                        let found = fields
                            .iter()
                            .find(|(k, _)| escape_field_name(k).as_deref() == Some(select.field.as_str()))
                            .map(|(_, t)| t);
                        if found.is_none() && !preserve_unknown {
                            self.undeclared
                                .push((e.id, format!("undefined field '{}'", select.field)));
                        }
                        found
                    }
                    TypeHint::Map(item) => Some(item),
                    _ => None,
                }
            }
            _ => None,
        }
    }

    fn expr(&mut self, e: &IdedExpr) {
        match &e.expr {
            Expr::Unspecified | Expr::Literal(_) => {}
            Expr::Ident(name) => self.ident(e.id, name),
            Expr::Select(select) => {
                if self.type_of(e).is_none() {
                    self.expr(&select.operand);
                } else {
                    self.expr_root(&select.operand);
                }
            }
            Expr::Call(call) => {
                if let Some(target) = &call.target {
                    self.expr(target);
                }
                for arg in &call.args {
                    self.expr(arg);
                }
            }
            Expr::List(list) => {
                for item in &list.elements {
                    self.expr(item);
                }
            }
            Expr::Map(map) => {
                for entry in &map.entries {
                    self.entry(&entry.expr);
                }
            }
            Expr::Struct(st) => {
                for entry in &st.entries {
                    self.entry(&entry.expr);
                }
            }
            Expr::Comprehension(c) => {
                self.expr(&c.iter_range);
                self.expr(&c.accu_init);
                // A list's items have the list's item type; a map is iterated by its keys.
                let item = match (&c.iter_var2, self.type_of(&c.iter_range)) {
                    (None, Some(TypeHint::List(item))) => Some(&**item),
                    (None, Some(TypeHint::Map(_) | TypeHint::Object { .. })) => Some(&STRING),
                    _ => None,
                };
                let before = self.scopes.len();
                self.scopes.push((c.iter_var.clone(), item));
                if let Some(second) = &c.iter_var2 {
                    self.scopes.push((second.clone(), None));
                }
                self.scopes.push((c.accu_var.clone(), None));
                self.expr(&c.loop_cond);
                self.expr(&c.loop_step);
                self.expr(&c.result);
                self.scopes.truncate(before);
            }
        }
    }

    /// Records the variable a select chain starts from (its fields were checked by `type_of`).
    fn expr_root(&mut self, e: &IdedExpr) {
        match &e.expr {
            Expr::Select(select) => self.expr_root(&select.operand),
            _ => self.expr(e),
        }
    }

    fn entry(&mut self, entry: &EntryExpr) {
        match entry {
            EntryExpr::MapEntry(m) => {
                self.expr(&m.key);
                self.expr(&m.value);
            }
            EntryExpr::StructField(f) => self.expr(&f.value),
        }
    }
}

/// Calls of functions the environment does not declare, as cel-go's checker reports them
/// (`undeclared reference to 'f' (in container '')`), with the call's node id. A call on one
/// of the library namespaces (`math.greatest`, `format.named`) is looked up by its qualified name.
pub(crate) fn undeclared_functions(
    env: &std::sync::Arc<cel::Env>,
    e: &IdedExpr,
    out: &mut Vec<(u64, String)>,
) {
    match &e.expr {
        Expr::Call(call) => {
            let operator = call.func_name.starts_with(['_', '@', '!', '-']);
            let name = match call.target.as_deref().map(|t| &t.expr) {
                Some(Expr::Ident(ns)) if BUILTIN_NAMES.contains(&ns.as_str()) => {
                    format!("{ns}.{}", call.func_name)
                }
                _ => call.func_name.clone(),
            };
            if !operator && !declared(env, &name) {
                out.push((
                    e.id,
                    format!("undeclared reference to '{name}' (in container '')"),
                ));
            }
            if let Some(target) = &call.target {
                undeclared_functions(env, target, out);
            }
            for arg in &call.args {
                undeclared_functions(env, arg, out);
            }
        }
        Expr::Select(select) => undeclared_functions(env, &select.operand, out),
        Expr::List(list) => list
            .elements
            .iter()
            .for_each(|i| undeclared_functions(env, i, out)),
        Expr::Map(map) => {
            for entry in &map.entries {
                if let EntryExpr::MapEntry(m) = &entry.expr {
                    undeclared_functions(env, &m.key, out);
                    undeclared_functions(env, &m.value, out);
                }
            }
        }
        Expr::Comprehension(c) => {
            for part in [&c.iter_range, &c.accu_init, &c.loop_cond, &c.loop_step, &c.result] {
                undeclared_functions(env, part, out);
            }
        }
        _ => {}
    }
}

/// Whether the environment declares a function of that name (global or member): cel-rust
/// refuses to add a context function under a declared name, which is the one public way to ask.
fn declared(env: &std::sync::Arc<cel::Env>, name: &str) -> bool {
    let mut context = cel::Context::with_env(env.clone());
    context.add_function(name, || false).is_err()
}

/// Whether the expression's result is plainly not a bool: a literal, list or map that is not
/// a bool, or arithmetic.
pub(crate) fn plainly_not_bool(e: &IdedExpr) -> bool {
    match &e.expr {
        Expr::Literal(lit) => !matches!(lit, cel::common::ast::LiteralValue::Boolean(_)),
        Expr::List(_) | Expr::Map(_) | Expr::Struct(_) => true,
        Expr::Call(call) => matches!(
            call.func_name.as_str(),
            "_+_" | "_-_" | "_*_" | "_/_" | "_%_" | "-_" | "size"
        ),
        _ => false,
    }
}

/// Whether the expression's result is plainly not a string.
pub(crate) fn plainly_not_string(e: &IdedExpr) -> bool {
    match &e.expr {
        Expr::Literal(lit) => !matches!(lit, cel::common::ast::LiteralValue::String(_)),
        Expr::List(_) | Expr::Map(_) | Expr::Struct(_) => true,
        Expr::Call(call) => matches!(
            call.func_name.as_str(),
            "_-_"
                | "_*_"
                | "_/_"
                | "_%_"
                | "-_"
                | "size"
                | "_==_"
                | "_!=_"
                | "_<_"
                | "_>_"
                | "_<=_"
                | "_>=_"
                | "_&&_"
                | "_||_"
                | "!_"
        ),
        _ => false,
    }
}
