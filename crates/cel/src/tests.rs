use std::collections::BTreeMap;

use serde_json::json;

use crate::{CompileError, Environment, EvalError, PER_CALL_LIMIT, TypeHint, Value, from_json};

fn env() -> &'static Environment {
    Environment::kubernetes().expect("environment")
}

/// Evaluates `rule` with `self` bound to the untyped JSON value.
fn eval(rule: &str, this: serde_json::Value) -> Result<Value, EvalError> {
    let program = env().compile(rule, &["self"]).expect("compiles");
    let value = from_json(&this, &TypeHint::Dynamic);
    program
        .evaluate(&[("self", &value)], PER_CALL_LIMIT)
        .map(|e| e.value)
}

fn holds(rule: &str, this: serde_json::Value) -> bool {
    match eval(rule, this) {
        Ok(Value::Bool(b)) => b,
        other => panic!("{rule}: {other:?}"),
    }
}

#[test]
fn self_fields_and_comparisons() {
    let spec = json!({"minReplicas": 1, "maxReplicas": 3, "name": "web"});
    assert!(holds("self.minReplicas <= self.maxReplicas", spec.clone()));
    assert!(!holds("self.minReplicas > self.maxReplicas", spec.clone()));
    assert!(holds("has(self.name) && !has(self.missing)", spec.clone()));
    assert_eq!(
        eval("self.missing == 1", spec),
        Err(EvalError::Runtime("no such key: missing".into()))
    );
}

#[test]
fn transition_rules_see_old_self() {
    let program = env()
        .compile("self == oldSelf", &["self", "oldSelf"])
        .expect("compiles");
    assert!(program.uses("oldSelf"));
    let new = from_json(&json!({"a": [1, 2]}), &TypeHint::Dynamic);
    let same = from_json(&json!({"a": [1, 2]}), &TypeHint::Dynamic);
    let other = from_json(&json!({"a": [2]}), &TypeHint::Dynamic);
    let run = |old: &Value| program.evaluate(&[("self", &new), ("oldSelf", old)], PER_CALL_LIMIT);
    assert_eq!(run(&same).map(|e| e.value), Ok(Value::Bool(true)));
    assert_eq!(run(&other).map(|e| e.value), Ok(Value::Bool(false)));
    let plain = env()
        .compile("self.x > 1", &["self", "oldSelf"])
        .expect("compiles");
    assert!(!plain.uses("oldSelf"));
}

#[test]
fn macros() {
    let items = json!({"items": [1, 2, 3], "tags": {"a": "x", "b": "y"}});
    assert!(holds("self.items.all(i, i > 0)", items.clone()));
    assert!(holds("self.items.exists(i, i == 2)", items.clone()));
    assert!(holds("self.items.exists_one(i, i > 2)", items.clone()));
    assert!(!holds("self.items.exists_one(i, i > 1)", items.clone()));
    assert!(holds("self.items.map(i, i * 2) == [2, 4, 6]", items.clone()));
    assert!(holds("self.items.filter(i, i % 2 == 1) == [1, 3]", items.clone()));
    assert!(holds("self.tags.all(k, k in ['a', 'b'])", items));
}

#[test]
fn string_library() {
    let s = json!({"s": "Hello, World"});
    assert!(holds("self.s.lowerAscii() == 'hello, world'", s.clone()));
    assert!(holds("self.s.upperAscii() == 'HELLO, WORLD'", s.clone()));
    assert!(holds(
        "self.s.indexOf('o') == 4 && self.s.lastIndexOf('o') == 8",
        s.clone()
    ));
    assert!(holds("self.s.replace('l', 'L') == 'HeLLo, WorLd'", s.clone()));
    assert!(holds("self.s.split(', ') == ['Hello', 'World']", s.clone()));
    assert!(holds(
        "self.s.substring(7) == 'World' && self.s.substring(0, 5) == 'Hello'",
        s.clone()
    ));
    assert!(holds("'  x '.trim() == 'x'", s.clone()));
    assert!(holds("['a', 'b'].join('-') == 'a-b'", s.clone()));
    assert!(holds(
        "self.s.matches('^H.*d$') && self.s.startsWith('He') && self.s.contains('lo')",
        s
    ));
}

#[test]
fn list_library() {
    let v = json!({"xs": [3, 1, 2], "sorted": [1, 2, 2], "names": ["b", "a"]});
    assert!(holds("self.sorted.isSorted() && !self.xs.isSorted()", v.clone()));
    assert!(holds(
        "self.xs.sum() == 6 && self.xs.min() == 1 && self.xs.max() == 3",
        v.clone()
    ));
    assert!(holds("self.names.min() == 'a'", v.clone()));
    assert!(holds(
        "self.sorted.indexOf(2) == 1 && self.sorted.lastIndexOf(2) == 2",
        v.clone()
    ));
    assert!(holds("self.xs.indexOf(9) == -1", v.clone()));
    assert!(holds("[].sum() == 0", v.clone()));
    assert!(eval("[].min()", v).is_err());
}

#[test]
fn regex_and_url_library() {
    let v = json!({"s": "abc 123 def 456", "u": "https://example.com:8080/a%20b?x=1&x=2&y=z"});
    assert!(holds("self.s.find('[0-9]+') == '123'", v.clone()));
    assert!(holds("self.s.findAll('[0-9]+') == ['123', '456']", v.clone()));
    assert!(holds("self.s.findAll('[0-9]+', 1) == ['123']", v.clone()));
    assert!(holds("self.s.find('xyz') == ''", v.clone()));
    assert!(holds(
        "isURL(self.u) && !isURL('not a url') && isURL('/just/a/path')",
        v.clone()
    ));
    assert!(holds("url(self.u).getScheme() == 'https'", v.clone()));
    assert!(holds("url(self.u).getHost() == 'example.com:8080'", v.clone()));
    assert!(holds("url(self.u).getHostname() == 'example.com'", v.clone()));
    assert!(holds("url(self.u).getPort() == '8080'", v.clone()));
    assert!(holds("url(self.u).getEscapedPath() == '/a%20b'", v.clone()));
    assert!(holds("url(self.u).getQuery()['x'] == ['1', '2']", v.clone()));
    assert!(eval("url('::bad') == ''", v).is_err());
}

#[test]
fn typed_values_from_the_schema() {
    let mut fields = BTreeMap::new();
    fields.insert("at".to_string(), TypeHint::Timestamp);
    fields.insert("timeout".to_string(), TypeHint::Duration);
    fields.insert("ratio".to_string(), TypeHint::Double);
    fields.insert("port".to_string(), TypeHint::IntOrString);
    fields.insert("x-name".to_string(), TypeHint::String);
    fields.insert("namespace".to_string(), TypeHint::String);
    let hint = TypeHint::Object {
        fields,
        preserve_unknown: false,
    };
    let this = from_json(
        &json!({"at": "2024-01-02T03:04:05Z", "timeout": "1m30s", "ratio": 2, "port": "http",
                "x-name": "n", "namespace": "ns", "undeclared": 1}),
        &hint,
    );
    let check = |rule: &str| {
        let program = env().compile(rule, &["self"]).expect("compiles");
        program
            .evaluate(&[("self", &this)], PER_CALL_LIMIT)
            .map(|e| e.value)
    };
    assert_eq!(
        check("self.at.getFullYear() == 2024 && self.at < timestamp('2025-01-01T00:00:00Z')"),
        Ok(Value::Bool(true))
    );
    assert_eq!(check("self.timeout == duration('90s')"), Ok(Value::Bool(true)));
    assert_eq!(check("self.ratio == 2.0"), Ok(Value::Bool(true)));
    assert_eq!(check("self.port == 'http'"), Ok(Value::Bool(true)));
    assert_eq!(
        check("self.x__dash__name == 'n' && self.__namespace__ == 'ns'"),
        Ok(Value::Bool(true))
    );
    assert_eq!(check("!has(self.undeclared)"), Ok(Value::Bool(true)));
    assert_eq!(
        crate::escape_field_name("a.b/c__d"),
        Some("a__dot__b__slash__c__underscores__d".into())
    );
    assert_eq!(crate::escape_field_name("1abc"), None);
}

#[test]
fn compile_errors_are_worded_as_cel_go() {
    let Err(CompileError::Syntax(syntax)) = env().compile("self.x >", &["self"]) else {
        panic!("a syntax error");
    };
    assert!(
        syntax.starts_with("ERROR: <input>:1:9: Syntax error: mismatched input"),
        "{syntax}"
    );
    assert!(syntax.ends_with("\n | self.x >\n | ........^"), "{syntax}");
    let Err(CompileError::Check(undeclared)) = env().compile("foo == 1", &["self"]) else {
        panic!("an undeclared reference");
    };
    assert_eq!(
        undeclared,
        "ERROR: <input>:1:1: undeclared reference to 'foo' (in container '')\n | foo == 1\n | ^"
    );
    // Names bound by macros, type names and namespaces are declared.
    assert!(
        env()
            .compile(
                "self.all(x, x > 0) && type(self) == list && math.abs(-1) == 1",
                &["self"]
            )
            .is_ok()
    );
    // oldSelf is undeclared where only self is.
    assert!(env().compile("self == oldSelf", &["self"]).is_err());
    assert!(
        env()
            .compile("1 + 2", &["self"])
            .expect("compiles")
            .plainly_not_bool()
    );
    assert!(
        !env()
            .compile("self > 2", &["self"])
            .expect("compiles")
            .plainly_not_bool()
    );
}

#[test]
fn cost_limit_stops_expensive_expressions_before_they_run() {
    let items: Vec<i64> = (0..200).collect();
    let this = from_json(&json!({"items": items}), &TypeHint::Dynamic);
    let cheap = env()
        .compile("self.items.all(x, x >= 0)", &["self"])
        .expect("compiles");
    let costly = env()
        .compile(
            "self.items.all(x, self.items.all(y, self.items.all(z, x + y + z >= 0)))",
            &["self"],
        )
        .expect("compiles");
    let ok = cheap.evaluate(&[("self", &this)], PER_CALL_LIMIT).expect("runs");
    assert_eq!(ok.value, Value::Bool(true));
    assert!(ok.cost > 200, "cost {} grows with the list", ok.cost);
    let err = costly
        .evaluate(&[("self", &this)], PER_CALL_LIMIT)
        .expect_err("too costly");
    assert!(
        matches!(
            err,
            EvalError::CostLimitExceeded {
                limit: PER_CALL_LIMIT,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(err.to_string(), "operation cancelled: actual cost limit exceeded");
}

#[test]
fn runtime_errors_are_worded_as_cel_go() {
    let v = json!({"a": 1, "zero": 0, "xs": [1]});
    assert_eq!(
        eval("self.a / self.zero == 1", v.clone()),
        Err(EvalError::Runtime("division by zero".into()))
    );
    assert_eq!(
        eval("self.xs[3] == 1", v.clone()),
        Err(EvalError::Runtime("index out of bounds: 3".into()))
    );
    let mixed = eval("self.a + 'x' == 1", v);
    assert!(
        matches!(mixed, Err(EvalError::NoSuchOverload { .. })),
        "{mixed:?}"
    );
}

#[test]
fn typed_compile_refuses_undefined_fields() {
    let mut inner = BTreeMap::new();
    inner.insert("max".to_string(), TypeHint::Int);
    let mut fields = BTreeMap::new();
    fields.insert("min-replicas".to_string(), TypeHint::Int);
    fields.insert(
        "limits".to_string(),
        TypeHint::Object {
            fields: inner,
            preserve_unknown: false,
        },
    );
    fields.insert("labels".to_string(), TypeHint::Map(Box::new(TypeHint::String)));
    let mut item = BTreeMap::new();
    item.insert("name".to_string(), TypeHint::String);
    item.insert("any".to_string(), TypeHint::Dynamic);
    fields.insert(
        "items".to_string(),
        TypeHint::List(Box::new(TypeHint::Object {
            fields: item,
            preserve_unknown: false,
        })),
    );
    fields.insert(
        "free".to_string(),
        TypeHint::Object {
            fields: BTreeMap::new(),
            preserve_unknown: true,
        },
    );
    let hint = TypeHint::Object {
        fields,
        preserve_unknown: false,
    };
    let vars = [("self", &hint), ("oldSelf", &hint)];
    let ok = "self.min__dash__replicas > 0 && self.items.all(i, i.name != '') \
              && self.labels.all(k, k.startsWith('a')) && self.items.exists(i, i.any.thing) && self.limits.max > 0 && self.labels.app == 'x' \
              && has(self.free.anything) && self.limits == oldSelf.limits";
    assert!(env().compile_typed(ok, &vars).is_ok());
    let Err(CompileError::Check(err)) = env().compile_typed("self.limits.mx > 0 || self.nope.deeper", &vars)
    else {
        panic!("undefined fields are refused");
    };
    assert_eq!(
        err,
        "ERROR: <input>:1:12: undefined field 'mx'\n | self.limits.mx > 0 || self.nope.deeper\n | ...........^\n\
         ERROR: <input>:1:27: undefined field 'nope'\n | self.limits.mx > 0 || self.nope.deeper\n | ..........................^"
    );
}
