use std::collections::BTreeMap;

use serde_json::json;

use super::*;

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn err(s: &str) -> String {
    LabelSelector::parse(s).unwrap_err().to_string()
}

const KEY_MSG: &str = "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
const VALUE_MSG: &str = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";

#[test]
fn parse_and_print() {
    let cases = [
        ("", ""),
        ("x=a", "x=a"),
        ("x==a", "x==a"),
        ("x!=a", "x!=a"),
        ("  x = a , y ", "x=a,y"),
        ("!x", "!x"),
        ("x in (b, a)", "x in (a,b)"),
        ("x notin (a)", "x notin (a)"),
        ("x in (foo,,baz),y,z notin ()", "x in (,baz,foo),y,z notin ()"),
        ("x in (,)", "x in ()"),
        ("x=", "x="),
        ("in in (in,notin)", "in in (in,notin)"),
        ("b=1,a=2", "a=2,b=1"),
        ("x>1,y<5", "x>1,y<5"),
        ("example.com/app=web", "example.com/app=web"),
        ("a\tin\n(x)", "a in (x)"),
    ];
    for (input, printed) in cases {
        let sel = LabelSelector::parse(input).unwrap_or_else(|e| panic!("{input:?}: {e}"));
        assert_eq!(sel.to_string(), printed, "{input:?}");
    }
    assert!(LabelSelector::parse("").unwrap().is_empty());
    assert!(LabelSelector::parse("   ").unwrap().is_empty());
    assert!(!LabelSelector::parse("a").unwrap().is_empty());
}

#[test]
fn matching() {
    let l = labels(&[("app", "web"), ("tier", "front"), ("n", "7")]);
    let yes = [
        "app=web",
        "app==web",
        "app!=db",
        "missing!=x",
        "app in (db,web)",
        "app notin (db)",
        "missing notin (x)",
        "app",
        "!missing",
        "app=web,tier=front",
        "n>5",
        "n<8",
        "",
    ];
    let no = [
        "app=db",
        "app!=web",
        "missing=x",
        "app in (db)",
        "app notin (web)",
        "missing",
        "!app",
        "app=web,tier=back",
        "n>7",
        "app>1",
        "missing<1",
        "missing in (x)",
    ];
    for s in yes {
        assert!(LabelSelector::parse(s).unwrap().matches(&l), "{s}");
    }
    for s in no {
        assert!(!LabelSelector::parse(s).unwrap().matches(&l), "{s}");
    }
    let sel = LabelSelector::parse("app=web").unwrap();
    assert!(sel.matches_value(&json!({"app": "web"})));
    assert!(!sel.matches_value(&json!(null)));
    assert!(!sel.matches_value(&json!({"app": 5})));
    assert!(sel.matches_object(&json!({"metadata": {"labels": {"app": "web"}}})));
    assert!(!sel.matches_object(&json!({"metadata": {}})));
    assert!(LabelSelector::parse("").unwrap().matches_object(&json!({})));
    assert_eq!(sel.requires_exact_match("app"), Some("web"));
    assert_eq!(
        LabelSelector::parse("app!=x")
            .unwrap()
            .requires_exact_match("app"),
        None
    );
}

#[test]
fn syntax_errors() {
    assert_eq!(
        err("a b"),
        "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt"
    );
    assert_eq!(err(","), "found ',', expected: !, identifier, or 'end of string'");
    assert_eq!(err("a,"), "found '', expected: identifier after ','");
    assert_eq!(err("a=b=c"), "found '=', expected: ',' or 'end of string'");
    assert_eq!(err("a=b c"), "found 'c', expected: ',' or 'end of string'");
    assert_eq!(
        err("!"),
        "unable to parse requirement: found '', expected: identifier"
    );
    assert_eq!(err("!a=b"), "found '=', expected: ',' or 'end of string'");
    assert_eq!(err("a in"), "unable to parse requirement: found '' expected: '('");
    assert_eq!(
        err("a in ("),
        "unable to parse requirement: found '', expected: ',', ')' or identifier"
    );
    assert_eq!(
        err("a in (x"),
        "unable to parse requirement: found '', expected: ',' or ')'"
    );
    assert_eq!(
        err("a in (x y)"),
        "unable to parse requirement: found 'y', expected: ',' or ')'"
    );
    assert_eq!(
        err("a in (,="),
        "unable to parse requirement: found '=', expected: ',', or identifier"
    );
    assert_eq!(
        err("a=("),
        "unable to parse requirement: found '(', expected: identifier"
    );
    assert_eq!(
        err("(a)"),
        "found '(', expected: !, identifier, or 'end of string'"
    );
    assert_eq!(err("a,,b"), "found ',', expected: identifier after ','");
}

#[test]
fn validation_errors() {
    assert_eq!(
        err("-a"),
        format!("unable to parse requirement: <nil>: Invalid value: \"-a\": {KEY_MSG}")
    );
    assert_eq!(
        err("a=-b"),
        format!("unable to parse requirement: values[0][a]: Invalid value: \"-b\": {VALUE_MSG}")
    );
    assert_eq!(
        err("a in (ok,-x)"),
        format!("unable to parse requirement: values[0][a]: Invalid value: \"-x\": {VALUE_MSG}")
    );
    assert_eq!(
        err("a>x"),
        "unable to parse requirement: values[0]: Invalid value: \"x\": for 'Gt', 'Lt' operators, the value must be an integer"
    );
    assert_eq!(
        err("a>-1x"),
        format!(
            "unable to parse requirement: [values[0]: Invalid value: \"-1x\": for 'Gt', 'Lt' operators, the value must be an integer, values[0][a]: Invalid value: \"-1x\": {VALUE_MSG}]"
        )
    );
    let long = "a".repeat(64);
    assert_eq!(
        err(&format!("{long}=x")),
        format!(
            "unable to parse requirement: <nil>: Invalid value: \"{long}\": name part must be no more than 63 characters"
        )
    );
}

#[test]
fn malformed_input_never_panics() {
    let weird = [
        "\0",
        "a\0b",
        "a=\0",
        "!!",
        "!=",
        "==",
        "((",
        "))",
        "a in ((",
        "a notin )",
        ">",
        "<=",
        "a>",
        "a<",
        "é=ü",
        "a=é",
        "\u{202e}",
        "a in (é,",
        "\\",
        "a!b",
        "!!a",
        ",,,",
        "a=b,!",
        "in",
        "notin",
        "in=in",
        "a in in",
        "a notin notin (x)",
        "x in (a,,)",
        "x in (,,)",
    ];
    for s in weird {
        let _ = LabelSelector::parse(s);
    }
    // Every prefix of a long tricky input.
    let tricky = "x in (a,b), !y, z notin (c,), w==v,u!=t, k>1, l<2, é=ü ,\t(";
    for (i, _) in tricky.char_indices() {
        let _ = LabelSelector::parse(&tricky[..i]);
    }
    assert!(LabelSelector::parse("a\0b").is_err());
}

#[test]
fn from_metav1_label_selector() {
    let nothing = LabelSelector::from_label_selector(None).unwrap();
    assert!(nothing.matches_nothing() && !nothing.is_empty());
    assert!(!nothing.matches(&labels(&[])));
    assert!(
        LabelSelector::from_label_selector(Some(&json!(null)))
            .unwrap()
            .matches_nothing()
    );
    let everything = LabelSelector::from_label_selector(Some(&json!({}))).unwrap();
    assert!(everything.is_empty() && everything.matches(&labels(&[])));

    let sel = LabelSelector::from_label_selector(Some(&json!({
        "matchLabels": {"app": "web"},
        "matchExpressions": [
            {"key": "tier", "operator": "In", "values": ["front", "edge"]},
            {"key": "canary", "operator": "DoesNotExist"},
            {"key": "env", "operator": "NotIn", "values": ["prod"]},
            {"key": "team", "operator": "Exists", "values": []},
        ]
    })))
    .unwrap();
    assert_eq!(
        sel.to_string(),
        "app=web,!canary,env notin (prod),team,tier in (edge,front)"
    );
    assert!(sel.matches(&labels(&[("app", "web"), ("tier", "edge"), ("team", "a")])));
    assert!(!sel.matches(&labels(&[
        ("app", "web"),
        ("tier", "edge"),
        ("team", "a"),
        ("canary", "1")
    ])));

    let bad_op = LabelSelector::from_label_selector(Some(
        &json!({"matchExpressions": [{"key": "a", "operator": "Gt"}]}),
    ));
    assert_eq!(
        bad_op.unwrap_err().to_string(),
        "\"Gt\" is not a valid label selector operator"
    );
    let empty_in = LabelSelector::from_label_selector(Some(
        &json!({"matchExpressions": [{"key": "a", "operator": "In"}]}),
    ));
    assert_eq!(
        empty_in.unwrap_err().to_string(),
        "values: Invalid value: []string(nil): for 'in', 'notin' operators, values set can't be empty"
    );
    let exists_vals = LabelSelector::from_label_selector(Some(&json!({
        "matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]})));
    assert_eq!(
        exists_vals.unwrap_err().to_string(),
        "values: Invalid value: []string{\"x\"}: values set must be empty for exists and does not exist"
    );
    let bad_key = LabelSelector::from_label_selector(Some(&json!({"matchLabels": {"-a": "b"}})));
    assert_eq!(
        bad_key.unwrap_err().to_string(),
        format!("key: Invalid value: \"-a\": {KEY_MSG}")
    );
    for bad in [
        json!(5),
        json!({"matchLabels": [1]}),
        json!({"matchLabels": {"a": 1}}),
        json!({"matchExpressions": {}}),
        json!({"matchExpressions": [5]}),
        json!({"matchExpressions": [{"operator": "In", "values": [1]}]}),
    ] {
        assert!(LabelSelector::from_label_selector(Some(&bad)).is_err(), "{bad}");
    }
}

#[test]
fn from_set_and_requirement_api() {
    let set = labels(&[("b", "2"), ("a", "1")]);
    let sel = LabelSelector::from_set(&set);
    assert_eq!(sel.to_string(), "a=1,b=2");
    assert!(sel.matches(&set));
    assert!(LabelSelector::from_set(&BTreeMap::new()).is_empty());
    let r = Requirement::new("a", Operator::In, vec!["x".into()]).unwrap();
    assert_eq!(
        (r.key(), r.operator().as_str(), r.values()),
        ("a", "in", &["x".to_string()][..])
    );
    assert_eq!(
        Requirement::new("a", Operator::Equals, vec![])
            .unwrap_err()
            .to_string(),
        "values: Invalid value: []string{}: exact-match compatibility requires one single value"
    );
}
