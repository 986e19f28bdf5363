use std::collections::BTreeMap;

use crate::{CompileError, Environment, TypeHint};

fn spec() -> TypeHint {
    let mut fields = BTreeMap::new();
    fields.insert("replicas".to_string(), TypeHint::Int);
    fields.insert("ratio".to_string(), TypeHint::Double);
    fields.insert("name".to_string(), TypeHint::String);
    fields.insert("enabled".to_string(), TypeHint::Bool);
    fields.insert("port".to_string(), TypeHint::IntOrString);
    fields.insert("created".to_string(), TypeHint::Timestamp);
    fields.insert("timeout".to_string(), TypeHint::Duration);
    fields.insert("tags".to_string(), TypeHint::List(Box::new(TypeHint::String)));
    fields.insert("free".to_string(), TypeHint::Dynamic);
    TypeHint::Object {
        fields,
        preserve_unknown: false,
    }
}

fn compile(rule: &str) -> Result<crate::Program, CompileError> {
    let hint = spec();
    Environment::kubernetes()
        .expect("environment")
        .compile_typed(rule, &[("self", &hint), ("oldSelf", &hint)])
}

fn refusal(rule: &str) -> String {
    match compile(rule) {
        Err(CompileError::Check(e)) => e,
        other => panic!("{rule} should be refused: {other:?}"),
    }
}

#[test]
fn operands_no_overload_takes_are_refused_as_cel_go_words_it() {
    assert_eq!(
        refusal("self.replicas <= 'a'"),
        concat!(
            "ERROR: <input>:1:15: found no matching overload for '_<=_' applied to '(int, string)'\n",
            " | self.replicas <= 'a'\n | ..............^"
        )
    );
    for (rule, message) in [
        ("self.name + 1 == 'x'", "'_+_' applied to '(string, int)'"),
        ("self.ratio + 1 > 0.0", "'_+_' applied to '(double, int)'"),
        ("self.enabled && self.name", "'_&&_' applied to '(bool, string)'"),
        ("!self.replicas", "'!_' applied to '(int)'"),
        ("self.name == 3", "'_==_' applied to '(string, int)'"),
        (
            "self.created > 'yesterday'",
            "'_>_' applied to '(google.protobuf.Timestamp, string)'",
        ),
        ("self.tags.all(t, t > 1)", "'_>_' applied to '(string, int)'"),
        ("size(self.name) == 'three'", "'_==_' applied to '(int, string)'"),
        ("self.replicas % 2.0 == 0.0", "'_%_' applied to '(int, double)'"),
    ] {
        let error = refusal(rule);
        assert!(
            error.contains(&format!("found no matching overload for {message}")),
            "{rule}: {error}"
        );
    }
}

#[test]
fn what_cel_go_accepts_still_compiles() {
    for rule in [
        "self.replicas <= 10 && self.ratio < 1",
        "self.replicas > 0.5",
        "self.name.startsWith('a') || self.name == ''",
        "self.port == 80 || self.port == 'http'",
        "self.free.anything + 1 > self.free.other",
        "self.created + self.timeout > self.created",
        "self.created - self.created == duration('0s')",
        "self.tags.all(t, t.size() > 0) && self.tags.exists_one(t, t == 'a')",
        "self.tags + ['x'] == oldSelf.tags",
        "self.name == null || self.replicas != null",
        "(self.enabled ? self.replicas : 0) >= 0",
        "has(self.name) && self.tags.map(t, t.size()).all(n, n < 64)",
        "quantity('1Gi').isGreaterThan(quantity('1Mi'))",
        "self.replicas + int('1') > 0",
    ] {
        assert!(compile(rule).is_ok(), "{rule}: {:?}", compile(rule).err());
    }
}

#[test]
fn the_result_type_tells_a_rule_that_is_not_a_bool() {
    assert!(compile("self.replicas").expect("compiles").plainly_not_bool());
    assert!(compile("self.name").expect("compiles").plainly_not_bool());
    assert!(
        compile("self.tags.map(t, t + '!')")
            .expect("compiles")
            .plainly_not_bool()
    );
    assert!(!compile("self.enabled").expect("compiles").plainly_not_bool());
    assert!(!compile("self.free").expect("compiles").plainly_not_bool());
    assert!(!compile("self.name").expect("compiles").plainly_not_string());
    assert!(compile("self.replicas").expect("compiles").plainly_not_string());
    assert!(!compile("self.port").expect("compiles").plainly_not_string());
}

#[test]
fn unknown_functions_are_refused_and_known_ones_resolve() {
    assert_eq!(
        refusal("self.name.frobnicate()"),
        concat!(
            "ERROR: <input>:1:21: undeclared reference to 'frobnicate' (in container '')\n",
            " | self.name.frobnicate()\n | ....................^"
        )
    );
    assert!(refusal("frob(self.name)").contains("undeclared reference to 'frob' (in container '')"));
    assert!(refusal("math.nope(1) > 0").contains("undeclared reference to 'math.nope'"));
    // Kubernetes does not enable cel-go's encoders.
    assert!(refusal("base64.encode(b'a') == 'YQ=='").contains("undeclared reference to 'base64.encode'"));
    for rule in [
        "math.greatest(1, 2) == 2",
        "strings.quote('a') != ''",
        "optional.of(1).hasValue()",
        "cel.bind(x, self.replicas, x + 1 > 0)",
        "sets.contains([1, 2, 3], [3, 1]) && sets.equivalent([1, 1, 2], [2, 1]) && !sets.intersects([1], [2])",
        "'%s'.format(['a']) == 'a'",
        "format.dns1123Label().validate(self.name) == optional.none()",
        "ip.isCanonical('::1') && cidr('10.0.0.0/8').containsIP(ip('10.0.0.1'))",
        "self.tags.sortBy(t, t).size() >= 0",
        "self.name.matches('^a') && self.name.lowerAscii() == self.name",
        "type(self.replicas) == int && dyn(self.replicas) > 0 && int(self.ratio) >= 0",
        "timestamp('2024-01-01T00:00:00Z').getFullYear() > 2000",
    ] {
        assert!(compile(rule).is_ok(), "{rule}: {:?}", compile(rule).err());
    }
}
