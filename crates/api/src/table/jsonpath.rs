//! A JSONPath subset for CRD `additionalPrinterColumns` (upstream uses
//! `k8s.io/client-go/util/jsonpath` with missing keys allowed):
//! `.a.b`, `.a\.b`, `['a.b']`, `["a"]`, `[0]`, `[-1]`, `[*]`, `.*`, and filters
//! `[?(@.x.y)]`, `[?(@.x == "v")]` with `== != < > <= >=` against string, number or boolean
//! literals. Anything else (recursive descent, slices, unions) is rejected at parse time.

use serde_json::Value;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Step {
    Field(String),
    Index(i64),
    Wildcard,
    Filter(Filter),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Filter {
    path: Vec<Step>,
    cmp: Option<(Op, Value)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    Ne,
    Lt,
    Gt,
    Le,
    Ge,
}

/// Parses a path such as `.status.conditions[?(@.type=="Ready")].status`. Surrounding
/// `{}` are accepted. `None` when the syntax is outside the supported subset.
pub(crate) fn parse(path: &str) -> Option<Vec<Step>> {
    let p = path.trim();
    let p = p
        .strip_prefix('{')
        .and_then(|s| s.strip_suffix('}'))
        .unwrap_or(p)
        .trim();
    let chars: Vec<char> = p.chars().collect();
    parse_steps(&chars)
}

fn parse_steps(c: &[char]) -> Option<Vec<Step>> {
    let mut steps = Vec::new();
    let mut i = 0;
    while i < c.len() {
        match c[i] {
            '.' => {
                i += 1;
                match c.get(i) {
                    None => {}
                    Some('.') => return None,
                    Some('*') => {
                        steps.push(Step::Wildcard);
                        i += 1;
                    }
                    Some('[') => {}
                    Some(_) => {
                        let mut name = String::new();
                        while i < c.len() && c[i] != '.' && c[i] != '[' {
                            if c[i] == '\\' && i + 1 < c.len() {
                                i += 1;
                            }
                            name.push(c[i]);
                            i += 1;
                        }
                        steps.push(Step::Field(name));
                    }
                }
            }
            '[' => {
                let end = bracket_end(c, i)?;
                steps.push(parse_bracket(&c[i + 1..end])?);
                i = end + 1;
            }
            _ => return None,
        }
    }
    Some(steps)
}

/// Index of the `]` closing the bracket opened at `start`, skipping quoted text and parens.
fn bracket_end(c: &[char], start: usize) -> Option<usize> {
    let (mut depth, mut quote) = (0i32, None::<char>);
    for (j, &ch) in c.iter().enumerate().skip(start + 1) {
        match (quote, ch) {
            (Some(q), _) if ch == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(ch),
            (None, '(') => depth += 1,
            (None, ')') => depth -= 1,
            (None, ']') if depth == 0 => return Some(j),
            _ => {}
        }
    }
    None
}

fn unquote(s: &str) -> Option<String> {
    let s = s.trim();
    for q in ['\'', '"'] {
        if s.len() >= 2 && s.starts_with(q) && s.ends_with(q) {
            return Some(s[1..s.len() - 1].to_string());
        }
    }
    None
}

fn parse_bracket(inner: &[char]) -> Option<Step> {
    let s: String = inner.iter().collect();
    let t = s.trim();
    if t == "*" {
        return Some(Step::Wildcard);
    }
    if let Some(expr) = t.strip_prefix("?(").and_then(|r| r.strip_suffix(')')) {
        return parse_filter(expr.trim()).map(Step::Filter);
    }
    if let Some(name) = unquote(t) {
        return Some(Step::Field(name));
    }
    t.parse::<i64>().ok().map(Step::Index)
}

fn parse_filter(expr: &str) -> Option<Filter> {
    let rest = expr.strip_prefix('@')?;
    let ops = [
        ("==", Op::Eq),
        ("!=", Op::Ne),
        ("<=", Op::Le),
        (">=", Op::Ge),
        ("<", Op::Lt),
        (">", Op::Gt),
    ];
    // The operator is the first one found outside quotes.
    let mut quote = None;
    let bytes: Vec<char> = rest.chars().collect();
    let mut split = None;
    'scan: for (i, &ch) in bytes.iter().enumerate() {
        match quote {
            Some(q) if ch == q => quote = None,
            Some(_) => {}
            None if ch == '\'' || ch == '"' => quote = Some(ch),
            None => {
                for (text, op) in ops {
                    let t: Vec<char> = text.chars().collect();
                    if bytes[i..].starts_with(&t) {
                        split = Some((i, t.len(), op));
                        break 'scan;
                    }
                }
            }
        }
    }
    let Some((at, len, op)) = split else {
        let path = parse_steps(
            &bytes
                .iter()
                .copied()
                .filter(|c| !c.is_whitespace())
                .collect::<Vec<_>>(),
        )?;
        return Some(Filter { path, cmp: None });
    };
    let left: Vec<char> = bytes[..at]
        .iter()
        .copied()
        .filter(|c| !c.is_whitespace())
        .collect();
    let path = parse_steps(&left)?;
    let right: String = bytes[at + len..].iter().collect();
    let right = right.trim();
    let literal = if let Some(s) = unquote(right) {
        Value::String(s)
    } else {
        serde_json::from_str::<Value>(right)
            .ok()
            .filter(|v| v.is_number() || v.is_boolean())?
    };
    Some(Filter {
        path,
        cmp: Some((op, literal)),
    })
}

/// All values the path selects (missing keys select nothing).
pub(crate) fn eval<'a>(steps: &[Step], root: &'a Value) -> Vec<&'a Value> {
    let mut current = vec![root];
    for step in steps {
        let mut next = Vec::new();
        for v in current {
            match step {
                Step::Field(name) => next.extend(v.as_object().and_then(|m| m.get(name))),
                Step::Index(i) => {
                    if let Some(a) = v.as_array() {
                        let idx = if *i < 0 {
                            i64::try_from(a.len()).unwrap_or(i64::MAX) + i
                        } else {
                            *i
                        };
                        next.extend(usize::try_from(idx).ok().and_then(|k| a.get(k)));
                    }
                }
                Step::Wildcard => match v {
                    Value::Array(a) => next.extend(a.iter()),
                    Value::Object(m) => next.extend(m.values()),
                    _ => {}
                },
                Step::Filter(f) => {
                    let items: Vec<&Value> = match v {
                        Value::Array(a) => a.iter().collect(),
                        other => vec![other],
                    };
                    next.extend(items.into_iter().filter(|item| matches(f, item)));
                }
            }
        }
        current = next;
    }
    current
}

fn matches(f: &Filter, item: &Value) -> bool {
    let lefts = eval(&f.path, item);
    let Some((op, right)) = &f.cmp else {
        return !lefts.is_empty();
    };
    let [left] = lefts.as_slice() else {
        return false;
    };
    let ord = match (left, right) {
        (Value::String(a), Value::String(b)) => a.partial_cmp(b),
        (Value::Number(a), Value::Number(b)) => a.as_f64().partial_cmp(&b.as_f64()),
        (Value::Bool(a), Value::Bool(b)) if matches!(op, Op::Eq | Op::Ne) => a.partial_cmp(b),
        _ => None,
    };
    let Some(ord) = ord else {
        return false;
    };
    match op {
        Op::Eq => ord.is_eq(),
        Op::Ne => ord.is_ne(),
        Op::Lt => ord.is_lt(),
        Op::Gt => ord.is_gt(),
        Op::Le => ord.is_le(),
        Op::Ge => ord.is_ge(),
    }
}
