use serde_json::json;

use super::*;

fn parse(s: &str) -> FieldSelector {
    FieldSelector::parse(s).unwrap_or_else(|e| panic!("{s:?}: {e}"))
}

#[test]
fn parse_print_and_requirements() {
    assert!(parse("").is_empty());
    assert!(parse(",,").is_empty());
    let sel = parse("status.phase!=Running,metadata.name==web,spec.nodeName=n1");
    let reqs: Vec<(&str, FieldOperator, &str)> = sel
        .requirements()
        .iter()
        .map(|r| (r.field.as_str(), r.operator, r.value.as_str()))
        .collect();
    // Terms are sorted by their text, as upstream does.
    assert_eq!(
        reqs,
        vec![
            ("metadata.name", FieldOperator::Equals, "web"),
            ("spec.nodeName", FieldOperator::Equals, "n1"),
            ("status.phase", FieldOperator::NotEquals, "Running"),
        ]
    );
    assert_eq!(
        sel.to_string(),
        "metadata.name=web,spec.nodeName=n1,status.phase!=Running"
    );
    assert_eq!(sel.requires_exact_match("spec.nodeName"), Some("n1"));
    assert_eq!(sel.requires_exact_match("status.phase"), None);
    assert_eq!(parse("a=").requirements()[0].value, "");
    assert_eq!(parse(" a = b ").requirements()[0].field, " a ");
}

#[test]
fn escaping() {
    let sel = parse(r"metadata.name=a\,b\=c\\d,x=y");
    assert_eq!(sel.requirements()[0].value, r"a,b=c\d");
    assert_eq!(sel.to_string(), r"metadata.name=a\,b\=c\\d,x=y");
    assert_eq!(escape_value(r"a,b=c\"), r"a\,b\=c\\");
    assert_eq!(unescape_value("plain").unwrap(), "plain");
    assert_eq!(
        unescape_value(r"\é").unwrap_err().to_string(),
        "invalid field selector: invalid escape sequence: \\é"
    );
}

#[test]
fn errors() {
    let e = |s: &str| FieldSelector::parse(s).unwrap_err().to_string();
    assert_eq!(e("foo"), "invalid selector: 'foo'; can't understand 'foo'");
    assert_eq!(
        e("a=b,zzz"),
        "invalid selector: 'a=b,zzz'; can't understand 'zzz'"
    );
    assert_eq!(
        e("a=b=c"),
        "invalid field selector: unescaped character in value: 61"
    );
    assert_eq!(
        e("a=b\\,c,d"),
        "invalid selector: 'a=b\\,c,d'; can't understand 'd'"
    );
    assert_eq!(e("a=b\\"), "invalid field selector: invalid escape sequence: \\");
    assert_eq!(e("a=\\x"), "invalid field selector: invalid escape sequence: \\x");
    assert_eq!(
        e("a=!=b"),
        "invalid field selector: unescaped character in value: 61"
    );
    for s in [
        "\0",
        "é",
        "\\",
        "=\\",
        "!",
        "!=",
        "=",
        "==",
        "a\\,=b",
        "\u{202e}=x",
        "a=é\\",
    ] {
        let _ = FieldSelector::parse(s);
    }
    assert_eq!(parse("!=").requirements()[0].operator, FieldOperator::NotEquals);
}

#[test]
fn matching_with_getter() {
    let sel = parse("spec.nodeName=n1,status.phase!=Succeeded");
    let get = |f: &str| match f {
        "spec.nodeName" => Some("n1".to_string()),
        "status.phase" => Some("Running".to_string()),
        _ => None,
    };
    assert!(sel.matches(&get));
    assert!(!parse("spec.nodeName=n2").matches(&get));
    assert!(parse("unknown=").matches(&get));
    assert!(!parse("unknown!=").matches(&get));
    assert!(FieldSelector::everything().matches(&|_| None));
}

#[test]
fn transform_and_default_conversion() {
    let sel = parse("metadata.name=a,spec.host=n1");
    let t = sel
        .transform(|f, v| -> Result<(String, String), String> {
            match f {
                "spec.host" => Ok(("spec.nodeName".into(), v.into())),
                "metadata.name" => Ok((String::new(), String::new())),
                _ => Err(format!("field label not supported: {f}")),
            }
        })
        .unwrap();
    assert_eq!(t.to_string(), "spec.nodeName=n1");
    assert_eq!(
        parse("spec.foo=x")
            .transform(default_field_label_conversion)
            .unwrap_err(),
        "\"spec.foo\" is not a known field selector: only \"metadata.name\", \"metadata.namespace\""
    );
    assert!(
        parse("metadata.namespace=x")
            .transform(default_field_label_conversion)
            .is_ok()
    );
}

#[test]
fn field_values_from_objects() {
    let pod = json!({
        "metadata": {"name": "p", "namespace": "ns"},
        "spec": {"nodeName": "n1", "restartPolicy": "Always", "hostNetwork": true, "priority": 5},
        "status": {"phase": "Running", "podIP": "10.0.0.1", "podIPs": [{"ip": "10.0.0.1"}, {"ip": "fd00::1"}]}
    });
    assert_eq!(field_value(&pod, "spec.nodeName").as_deref(), Some("n1"));
    assert_eq!(field_value(&pod, "spec.hostNetwork").as_deref(), Some("true"));
    assert_eq!(field_value(&pod, "spec.priority").as_deref(), Some("5"));
    assert_eq!(field_value(&pod, "spec.schedulerName"), None);
    assert_eq!(field_value(&pod, "status.podIPs"), None);
    assert_eq!(field_value(&pod, "metadata"), None);
    assert_eq!(field_value(&pod, ""), None);
    assert_eq!(field_value(&json!("x"), "a.b"), None);

    assert_eq!(selectable_field_value(&pod, "status.podIP"), "10.0.0.1");
    assert_eq!(selectable_field_value(&pod, "status.podIPs"), "");
    assert_eq!(selectable_field_value(&pod, "spec.host"), "n1");
    assert_eq!(selectable_field_value(&pod, "spec.serviceAccountName"), "");
    let bare = json!({"metadata": {"name": "p"}});
    assert_eq!(selectable_field_value(&bare, "spec.hostNetwork"), "false");
    assert_eq!(selectable_field_value(&bare, "spec.unschedulable"), "false");
    assert_eq!(selectable_field_value(&bare, "status.replicas"), "0");
    assert_eq!(
        selectable_field_value(&json!({"status": {"succeeded": 3}}), "status.successful"),
        "3"
    );
    assert_eq!(selectable_field_value(&bare, "metadata.namespace"), "");
    let ev = json!({"source": {"component": ""}, "reportingComponent": "kubelet", "involvedObject": {"kind": "Pod"}});
    assert_eq!(selectable_field_value(&ev, "source"), "kubelet");
    assert_eq!(
        selectable_field_value(&json!({"source": {"component": "sched"}}), "source"),
        "sched"
    );
    assert_eq!(selectable_field_value(&ev, "involvedObject.kind"), "Pod");

    assert!(parse("spec.nodeName=n1,status.phase!=Failed").matches_object(&pod));
    assert!(parse("spec.nodeName=").matches_object(&bare));
    assert!(parse("spec.hostNetwork=false").matches_object(&bare));
    assert!(!parse("status.podIPs=10.0.0.1").matches_object(&pod));
}
