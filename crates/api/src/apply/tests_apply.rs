//! Server-side apply: the cases upstream documents (structured-merge-diff `merge/*_test.go`,
//! the server-side apply docs, `managedfields/internal/*_test.go`).

use serde_json::{Value, json};

use super::*;

pub(super) const T0: &str = "2024-01-01T00:00:00Z";
pub(super) const T1: &str = "2024-01-01T00:01:00Z";
pub(super) const T2: &str = "2024-01-01T00:02:00Z";

pub(super) fn deploy_schema() -> ApplySchema {
    ApplySchema::for_kind("apps", "Deployment")
}

/// A Deployment configuration as `kubectl apply --server-side` sends it.
pub(super) fn deployment(replicas: i64, image: &str) -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": image}]}
            }
        }
    })
}

/// The managedFields entry of `manager` with `operation`.
pub(super) fn entry<'a>(obj: &'a Value, manager: &str, operation: &str) -> Option<&'a Value> {
    obj["metadata"]["managedFields"]
        .as_array()?
        .iter()
        .find(|e| e["manager"] == manager && e["operation"] == operation)
}

pub(super) fn fields_of(obj: &Value, manager: &str, operation: &str) -> FieldSet {
    let e = entry(obj, manager, operation).unwrap_or_else(|| panic!("no {operation} entry for {manager}"));
    FieldSet::from_fields_v1(&e["fieldsV1"]).unwrap()
}

fn p(dotted: &str) -> Vec<PathElement> {
    dotted.split('.').map(PathElement::field).collect()
}

fn conflicts_of(err: ApplyError) -> Vec<(String, String)> {
    match err {
        ApplyError::Conflict { conflicts } => conflicts.into_iter().map(|c| (c.manager, c.field)).collect(),
        other => panic!("expected a conflict, got {other:?}"),
    }
}

#[test]
fn create_via_apply() {
    let schema = deploy_schema();
    let obj = apply(None, &deployment(2, "nginx:1.25"), "kubectl", false, &schema, T0).unwrap();
    assert_eq!(obj["spec"]["replicas"], 2);
    assert_eq!(
        obj["spec"]["template"]["spec"]["containers"][0]["image"],
        "nginx:1.25"
    );
    let mf = obj["metadata"]["managedFields"].as_array().unwrap();
    assert_eq!(mf.len(), 1);
    assert_eq!(
        mf[0],
        json!({
            "manager": "kubectl",
            "operation": "Apply",
            "apiVersion": "apps/v1",
            "time": T0,
            "fieldsType": "FieldsV1",
            "fieldsV1": {
                "f:metadata": {"f:labels": {"f:app": {}}},
                "f:spec": {
                    "f:replicas": {},
                    "f:selector": {},
                    "f:template": {
                        "f:metadata": {"f:labels": {"f:app": {}}},
                        "f:spec": {"f:containers": {"k:{\"name\":\"web\"}": {".": {}, "f:image": {}, "f:name": {}}}}
                    }
                }
            }
        })
    );
    // Exactly upstream's bytes for this set.
    let set = fields_of(&obj, "kubectl", "Apply");
    assert_eq!(
        set.to_fields_v1_string(),
        r#"{"f:metadata":{"f:labels":{"f:app":{}}},"f:spec":{"f:replicas":{},"f:selector":{},"f:template":{"f:metadata":{"f:labels":{"f:app":{}}},"f:spec":{"f:containers":{"k:{\"name\":\"web\"}":{".":{},"f:image":{},"f:name":{}}}}}}}"#
    );
}

#[test]
fn reapplying_the_same_configuration_is_a_no_op() {
    let schema = deploy_schema();
    let cfg = deployment(2, "nginx");
    let live = apply(None, &cfg, "kubectl", false, &schema, T0).unwrap();
    let again = apply(Some(&live), &cfg, "kubectl", false, &schema, T1).unwrap();
    assert_eq!(again, live, "unchanged object keeps its managedFields time");
}

#[test]
fn null_server_metadata_in_a_manifest_is_ignored() {
    let schema = deploy_schema();
    let mut live = apply(None, &deployment(2, "nginx"), "kubectl", false, &schema, T0).unwrap();
    live["metadata"]["creationTimestamp"] = json!(T0);
    live["metadata"]["uid"] = json!("u1");
    let mut cfg = deployment(2, "nginx");
    cfg["metadata"]["creationTimestamp"] = Value::Null;
    let again = apply(Some(&live), &cfg, "kubectl", false, &schema, T1).unwrap();
    assert_eq!(again, live);
}

#[test]
fn second_apply_removes_fields_the_manager_dropped() {
    let schema = deploy_schema();
    let mut cfg = deployment(2, "nginx");
    cfg["metadata"]["labels"]["tier"] = json!("fe");
    cfg["spec"]["minReadySeconds"] = json!(5);
    let live = apply(None, &cfg, "kubectl", false, &schema, T0).unwrap();
    assert_eq!(live["metadata"]["labels"]["tier"], "fe");

    let cfg2 = deployment(2, "nginx");
    let obj = apply(Some(&live), &cfg2, "kubectl", false, &schema, T1).unwrap();
    assert_eq!(obj["metadata"]["labels"], json!({"app": "web"}));
    assert!(obj["spec"].get("minReadySeconds").is_none());
    assert_eq!(obj["spec"]["replicas"], 2);
    let set = fields_of(&obj, "kubectl", "Apply");
    assert!(!set.contains(&p("spec.minReadySeconds")));
    assert_eq!(entry(&obj, "kubectl", "Apply").unwrap()["time"], T1);
}

#[test]
fn dropping_a_field_another_manager_owns_keeps_it() {
    let schema = deploy_schema();
    let live = apply(None, &deployment(3, "nginx"), "a", false, &schema, T0).unwrap();
    // b applies the same replicas: shared ownership, no conflict.
    let mut cfg_b = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}, "spec": {"replicas": 3}});
    let live = apply(Some(&live), &cfg_b, "b", false, &schema, T1).unwrap();
    assert!(fields_of(&live, "a", "Apply").contains(&p("spec.replicas")));
    assert!(fields_of(&live, "b", "Apply").contains(&p("spec.replicas")));
    // a stops applying replicas: b still owns it, so it stays.
    let mut cfg_a = deployment(3, "nginx");
    cfg_a["spec"].as_object_mut().unwrap().remove("replicas");
    let live = apply(Some(&live), &cfg_a, "a", false, &schema, T2).unwrap();
    assert_eq!(live["spec"]["replicas"], 3);
    assert!(!fields_of(&live, "a", "Apply").contains(&p("spec.replicas")));
    // b stops too: now nobody owns it and it goes.
    cfg_b["spec"] = json!({});
    cfg_b["metadata"]["labels"] = json!({"owner": "b"});
    let live = apply(Some(&live), &cfg_b, "b", false, &schema, T2).unwrap();
    assert!(live["spec"].get("replicas").is_none());
    assert_eq!(live["metadata"]["labels"], json!({"app": "web", "owner": "b"}));
}

#[test]
fn two_appliers_conflict_on_a_different_value() {
    let schema = deploy_schema();
    let live = apply(None, &deployment(3, "nginx"), "a", false, &schema, T0).unwrap();
    let cfg_b = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}, "spec": {"replicas": 5}});
    let err = apply(Some(&live), &cfg_b, "b", false, &schema, T1).unwrap_err();
    assert_eq!(err.code(), 409);
    assert_eq!(
        err.to_string(),
        r#"Apply failed with 1 conflict: conflict with "a": .spec.replicas"#
    );
    assert_eq!(
        conflicts_of(err.clone()),
        [("a".to_string(), ".spec.replicas".to_string())]
    );
    let status = err.to_api_error().to_status();
    assert_eq!(status["code"], 409);
    assert_eq!(status["reason"], "Conflict");
    assert_eq!(
        status["details"]["causes"],
        json!([{"reason": "FieldManagerConflict", "message": "conflict with \"a\"", "field": ".spec.replicas"}])
    );
}

#[test]
fn force_takes_ownership() {
    let schema = deploy_schema();
    let live = apply(None, &deployment(3, "nginx"), "a", false, &schema, T0).unwrap();
    let cfg_b = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}, "spec": {"replicas": 5}});
    let obj = apply(Some(&live), &cfg_b, "b", true, &schema, T1).unwrap();
    assert_eq!(obj["spec"]["replicas"], 5);
    assert!(!fields_of(&obj, "a", "Apply").contains(&p("spec.replicas")));
    assert!(fields_of(&obj, "b", "Apply").contains(&p("spec.replicas")));
    // a re-applies its old configuration: now a conflicts with b.
    let err = apply(Some(&obj), &deployment(3, "nginx"), "a", false, &schema, T2).unwrap_err();
    assert_eq!(
        conflicts_of(err),
        [("b".to_string(), ".spec.replicas".to_string())]
    );
}

#[test]
fn containers_merge_by_name_with_per_item_ownership() {
    let schema = deploy_schema();
    let live = apply(None, &deployment(1, "nginx"), "a", false, &schema, T0).unwrap();
    let sidecar = json!({
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
        "spec": {"template": {"spec": {"containers": [{"name": "sidecar", "image": "envoy"}]}}}
    });
    let live = apply(Some(&live), &sidecar, "b", false, &schema, T1).unwrap();
    let containers = &live["spec"]["template"]["spec"]["containers"];
    assert_eq!(
        containers,
        &json!([{"name": "web", "image": "nginx"}, {"name": "sidecar", "image": "envoy"}])
    );
    let b = fields_of(&live, "b", "Apply");
    assert_eq!(
        b.to_fields_v1(),
        json!({"f:spec": {"f:template": {"f:spec": {"f:containers": {"k:{\"name\":\"sidecar\"}": {".": {}, "f:image": {}, "f:name": {}}}}}}})
    );

    // b changing a's container image conflicts on that one field.
    let hijack = json!({
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
        "spec": {"template": {"spec": {"containers": [
            {"name": "sidecar", "image": "envoy"}, {"name": "web", "image": "evil"}
        ]}}}
    });
    let err = apply(Some(&live), &hijack, "b", false, &schema, T2).unwrap_err();
    assert_eq!(
        conflicts_of(err),
        [(
            "a".to_string(),
            r#".spec.template.spec.containers[name="web"].image"#.to_string()
        )]
    );

    // a drops its container: it goes, b's stays.
    let mut cfg_a = deployment(1, "nginx");
    cfg_a["spec"]["template"]["spec"]["containers"] = json!([]);
    let obj = apply(Some(&live), &cfg_a, "a", false, &schema, T2).unwrap();
    assert_eq!(
        obj["spec"]["template"]["spec"]["containers"],
        json!([{"name": "sidecar", "image": "envoy"}])
    );
}

#[test]
fn container_ports_are_keyed_by_port_and_defaulted_protocol() {
    let schema = deploy_schema();
    let mut cfg = deployment(1, "nginx");
    cfg["spec"]["template"]["spec"]["containers"][0]["ports"] = json!([{"containerPort": 80}]);
    let live = apply(None, &cfg, "kubectl", false, &schema, T0).unwrap();
    let set = fields_of(&live, "kubectl", "Apply");
    let ports = set
        .child(&PathElement::field("spec"))
        .and_then(|s| s.child(&PathElement::field("template")))
        .and_then(|s| s.child(&PathElement::field("spec")))
        .and_then(|s| s.child(&PathElement::field("containers")))
        .and_then(|s| s.child(&PathElement::key([("name", json!("web"))])))
        .and_then(|s| s.child(&PathElement::field("ports")))
        .unwrap();
    assert_eq!(
        ports.to_fields_v1(),
        json!({"k:{\"containerPort\":80,\"protocol\":\"TCP\"}": {".": {}, "f:containerPort": {}}})
    );
    // The live object was defaulted with protocol: TCP; the item still matches.
    let mut defaulted = live.clone();
    defaulted["spec"]["template"]["spec"]["containers"][0]["ports"][0]["protocol"] = json!("TCP");
    let obj = apply(Some(&defaulted), &cfg, "kubectl", false, &schema, T1).unwrap();
    assert_eq!(
        obj["spec"]["template"]["spec"]["containers"][0]["ports"],
        json!([{"containerPort": 80, "protocol": "TCP"}])
    );
}

#[test]
fn sets_union_and_prune_by_value() {
    let schema = deploy_schema();
    let with_finalizers = |f: Value| json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "finalizers": f}});
    let live = apply(None, &with_finalizers(json!(["a", "b"])), "x", false, &schema, T0).unwrap();
    let live = apply(
        Some(&live),
        &with_finalizers(json!(["c"])),
        "y",
        false,
        &schema,
        T1,
    )
    .unwrap();
    assert_eq!(live["metadata"]["finalizers"], json!(["a", "b", "c"]));
    assert_eq!(
        fields_of(&live, "y", "Apply").to_fields_v1(),
        json!({"f:metadata": {"f:finalizers": {"v:\"c\"": {}}}})
    );
    let live = apply(
        Some(&live),
        &with_finalizers(json!(["a"])),
        "x",
        false,
        &schema,
        T2,
    )
    .unwrap();
    assert_eq!(live["metadata"]["finalizers"], json!(["a", "c"]));
}

#[test]
fn atomic_lists_and_selectors_are_replaced_whole() {
    let schema = deploy_schema();
    let mut cfg = deployment(1, "nginx");
    cfg["spec"]["template"]["spec"]["containers"][0]["args"] = json!(["-a", "-b"]);
    cfg["spec"]["template"]["spec"]["tolerations"] = json!([{"key": "k", "operator": "Exists"}]);
    let live = apply(None, &cfg, "a", false, &schema, T0).unwrap();
    let set = fields_of(&live, "a", "Apply");
    let web = ["spec", "template", "spec", "containers"]
        .iter()
        .map(|s| PathElement::field(*s))
        .chain([
            PathElement::key([("name", json!("web"))]),
            PathElement::field("args"),
        ])
        .collect::<Vec<_>>();
    assert!(set.contains(&web));
    assert!(set.contains(&p("spec.template.spec.tolerations")));
    assert!(set.contains(&p("spec.selector")));
    assert!(!set.contains(&p("spec.selector.matchLabels")));

    let mut cfg2 = cfg.clone();
    cfg2["spec"]["template"]["spec"]["containers"][0]["args"] = json!(["-c"]);
    let obj = apply(Some(&live), &cfg2, "a", false, &schema, T1).unwrap();
    assert_eq!(
        obj["spec"]["template"]["spec"]["containers"][0]["args"],
        json!(["-c"])
    );
    // Another manager changing one toleration conflicts on the whole list.
    let other = json!({
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
        "spec": {"template": {"spec": {"tolerations": [{"key": "k", "operator": "Equal"}]}}}
    });
    let err = apply(Some(&obj), &other, "b", false, &schema, T2).unwrap_err();
    assert_eq!(
        conflicts_of(err),
        [("a".to_string(), ".spec.template.spec.tolerations".to_string())]
    );
}

#[test]
fn conflict_with_an_update_manager_names_its_version() {
    let schema = deploy_schema();
    let live = apply(None, &deployment(2, "nginx"), "kubectl", false, &schema, T0).unwrap();
    let mut edited = live.clone();
    edited["spec"]["replicas"] = json!(4);
    record_update(Some(&live), &mut edited, "kubectl-edit", T1, "apps/v1", &schema);
    assert!(fields_of(&edited, "kubectl-edit", "Update").contains(&p("spec.replicas")));
    assert!(!fields_of(&edited, "kubectl", "Apply").contains(&p("spec.replicas")));

    let err = apply(
        Some(&edited),
        &deployment(2, "nginx"),
        "kubectl",
        false,
        &schema,
        T2,
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"Apply failed with 1 conflict: conflict with "kubectl-edit" using apps/v1: .spec.replicas"#
    );
    let (message, causes) = match &err {
        ApplyError::Conflict { conflicts } => conflict_status(conflicts),
        _ => unreachable!(),
    };
    assert!(message.starts_with("Apply failed with 1 conflict"));
    assert_eq!(causes[0].cause_type, "FieldManagerConflict");
    assert_eq!(causes[0].message, r#"conflict with "kubectl-edit" using apps/v1"#);
    assert_eq!(causes[0].field, ".spec.replicas");
}

#[test]
fn several_conflicts_are_grouped_by_manager() {
    let schema = deploy_schema();
    let live = apply(None, &deployment(2, "nginx"), "zeta", false, &schema, T0).unwrap();
    let mut edited = live.clone();
    edited["metadata"]["labels"]["tier"] = json!("fe");
    record_update(Some(&live), &mut edited, "kubectl-label", T1, "apps/v1", &schema);
    let mut cfg = deployment(9, "httpd");
    cfg["metadata"]["labels"]["tier"] = json!("be");
    let err = apply(Some(&edited), &cfg, "me", false, &schema, T2).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Apply failed with 3 conflicts: conflicts with \"kubectl-label\" using apps/v1:\n\
         - .metadata.labels.tier\n\
         conflicts with \"zeta\":\n\
         - .spec.replicas\n\
         - .spec.template.spec.containers[name=\"web\"].image"
    );
    let ApplyError::Conflict { conflicts } = &err else {
        unreachable!()
    };
    let (_, causes) = conflict_status(conflicts);
    assert_eq!(causes.len(), 3);
    assert!(
        causes
            .iter()
            .all(|c| c.cause_type == CAUSE_FIELD_MANAGER_CONFLICT)
    );
}

#[test]
fn client_side_apply_upgrade_via_last_applied() {
    let schema = deploy_schema();
    // 1. kubectl apply (client-side) creates the object with the annotation.
    let mut manifest = deployment(2, "nginx");
    manifest["metadata"]["labels"]["tier"] = json!("fe");
    let mut csa = manifest.clone();
    let mut last_applied = serde_json::to_string(&manifest).unwrap();
    last_applied.push('\n');
    csa["metadata"]["annotations"] = json!({ LAST_APPLIED_ANNOTATION: last_applied });
    record_update(
        None,
        &mut csa,
        "kubectl-client-side-apply",
        T0,
        "apps/v1",
        &schema,
    );
    assert!(fields_of(&csa, "kubectl-client-side-apply", "Update").contains(&p("spec.replicas")));

    // 2. kubectl apply --server-side with a new replica count: the fields the annotation
    //    describes are taken over without conflict.
    let mut ssa = manifest.clone();
    ssa["spec"]["replicas"] = json!(3);
    let obj = apply(Some(&csa), &ssa, "kubectl", false, &schema, T1).unwrap();
    assert_eq!(obj["spec"]["replicas"], 3);
    assert!(fields_of(&obj, "kubectl", "Apply").contains(&p("spec.replicas")));
    assert!(!fields_of(&obj, "kubectl-client-side-apply", "Update").contains(&p("spec.replicas")));
    // The annotation now records the server-side configuration.
    let ann: Value = serde_json::from_str(
        obj["metadata"]["annotations"][LAST_APPLIED_ANNOTATION]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(ann["spec"]["replicas"], 3);
    // Another manager gets no such pass.
    let err = apply(Some(&csa), &ssa, "someone", false, &schema, T1).unwrap_err();
    assert_eq!(
        conflicts_of(err),
        [(
            "kubectl-client-side-apply".to_string(),
            ".spec.replicas".to_string()
        )]
    );

    // 3. kubectl's follow-up: move kubectl-client-side-apply's fields to kubectl, sent as a
    //    JSON patch on /metadata/managedFields (recorded as an Update that changes nothing).
    let mut upgraded = obj.clone();
    assert!(upgrade_managed_fields(&mut upgraded, "kubectl-client-side-apply", "kubectl").unwrap());
    assert!(entry(&upgraded, "kubectl-client-side-apply", "Update").is_none());
    let kubectl = fields_of(&upgraded, "kubectl", "Apply");
    assert!(
        kubectl.contains(&p("metadata.annotations"))
            || kubectl.contains(&[
                PathElement::field("metadata"),
                PathElement::field("annotations"),
                PathElement::field(LAST_APPLIED_ANNOTATION),
            ])
    );
    let mut patched = upgraded.clone();
    record_update(Some(&obj), &mut patched, "kubectl", T2, "apps/v1", &schema);
    assert_eq!(
        patched["metadata"]["managedFields"],
        upgraded["metadata"]["managedFields"]
    );

    // 4. From now on dropping a field in the manifest removes it.
    let mut next = manifest.clone();
    next["spec"]["replicas"] = json!(3);
    next["metadata"]["labels"].as_object_mut().unwrap().remove("tier");
    let obj = apply(Some(&patched), &next, "kubectl", false, &schema, T2).unwrap();
    assert_eq!(obj["metadata"]["labels"], json!({"app": "web"}));
}

#[test]
fn objects_without_managed_fields_attribute_to_before_first_apply() {
    let schema = deploy_schema();
    let mut live = deployment(2, "nginx");
    live["metadata"]["uid"] = json!("u1");
    let err = apply(Some(&live), &deployment(3, "nginx"), "me", false, &schema, T0).unwrap_err();
    let ApplyError::Conflict { conflicts } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(conflicts[0].manager, BEFORE_FIRST_APPLY_MANAGER);
    assert_eq!(
        conflicts[0].describe_manager(),
        r#""before-first-apply" using apps/v1"#
    );
    let obj = apply(Some(&live), &deployment(2, "nginx"), "me", false, &schema, T0).unwrap();
    assert!(entry(&obj, BEFORE_FIRST_APPLY_MANAGER, "Update").is_some());
}

#[test]
fn bad_requests() {
    let schema = deploy_schema();
    let mut cfg = deployment(1, "nginx");
    cfg["metadata"]["managedFields"] = json!([]);
    let err = apply(None, &cfg, "m", false, &schema, T0).unwrap_err();
    assert_eq!(
        err,
        ApplyError::BadRequest("metadata.managedFields must be nil".into())
    );
    assert_eq!(err.to_api_error().code(), 400);

    let live = apply(None, &deployment(1, "nginx"), "m", false, &schema, T0).unwrap();
    let mut other = deployment(1, "nginx");
    other["apiVersion"] = json!("apps/v1beta1");
    let err = apply(Some(&live), &other, "m", false, &schema, T0).unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid object type: apps/v1beta1, Kind=Deployment"
    );

    let mut dup = deployment(1, "nginx");
    dup["spec"]["template"]["spec"]["containers"] = json!([{"name": "a"}, {"name": "a"}]);
    let err = apply(None, &dup, "m", false, &schema, T0).unwrap_err();
    assert_eq!(
        err.to_string(),
        r#".spec.template.spec.containers: duplicate entries for key [name="a"]"#
    );
    let mut keyless = deployment(1, "nginx");
    keyless["spec"]["template"]["spec"]["containers"] = json!([{"image": "x"}]);
    let err = apply(None, &keyless, "m", false, &schema, T0).unwrap_err();
    assert!(err.to_string().starts_with(".spec.template.spec.containers: element 0: associative list with keys has an element that omits all key fields"), "{err}");
}

#[test]
fn reset_fields_are_not_owned() {
    let schema = ApplySchema::for_kind("", "Pod");
    let cfg = json!({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
        "spec": {"containers": [{"name": "c", "image": "i"}]},
        "status": {"phase": "Running"}
    });
    let opts = ApplyOptions {
        reset_fields: reset_fields_for("", true),
        ..ApplyOptions::new("m", T0)
    };
    let obj = apply_with(None, &cfg, &schema, &opts).unwrap();
    let set = fields_of(&obj, "m", "Apply");
    assert!(set.child(&PathElement::field("status")).is_none());
    assert!(set.child(&PathElement::field("spec")).is_some());
}

#[test]
fn status_subresource_entries_carry_the_subresource() {
    let schema = deploy_schema();
    let live = apply(None, &deployment(1, "nginx"), "kubectl", false, &schema, T0).unwrap();
    let status = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}, "status": {"replicas": 1}});
    let opts = ApplyOptions {
        subresource: "status",
        reset_fields: reset_fields_for("status", true),
        ..ApplyOptions::new("controller", T1)
    };
    let obj = apply_with(Some(&live), &status, &schema, &opts).unwrap();
    let e = entry(&obj, "controller", "Apply").unwrap();
    assert_eq!(e["subresource"], "status");
    assert_eq!(e["fieldsV1"], json!({"f:status": {"f:replicas": {}}}));
    // Entries are sorted: Apply before Update, then by time and manager.
    let managers: Vec<&str> = obj["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["manager"].as_str().unwrap())
        .collect();
    assert_eq!(managers, ["kubectl", "controller"]);
}

#[test]
fn custom_resources_merge_objects_and_replace_lists() {
    let schema = ApplySchema::for_kind("example.com", "Widget");
    let cfg = json!({
        "apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w", "finalizers": ["a"]},
        "spec": {"size": 1, "tags": ["x", "y"], "nested": {"a": 1}}
    });
    let live = apply(None, &cfg, "a", false, &schema, T0).unwrap();
    assert_eq!(
        fields_of(&live, "a", "Apply").to_fields_v1(),
        json!({"f:metadata": {"f:finalizers": {"v:\"a\"": {}}}, "f:spec": {"f:size": {}, "f:tags": {}, "f:nested": {"f:a": {}}}})
    );
    let cfg_b = json!({
        "apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"},
        "spec": {"nested": {"b": 2}}
    });
    let obj = apply(Some(&live), &cfg_b, "b", false, &schema, T1).unwrap();
    assert_eq!(obj["spec"]["nested"], json!({"a": 1, "b": 2}));
}

#[test]
fn merged_list_order_follows_upstream() {
    let schema = ApplySchema::for_kind("", "Pod");
    let pod = |names: &[&str]| {
        let containers: Vec<Value> = names.iter().map(|n| json!({"name": n, "image": "i"})).collect();
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": containers}})
    };
    let live = apply(None, &pod(&["a", "b", "c"]), "x", false, &schema, T0).unwrap();
    // A second applier listing existing items in another order and a new one.
    let obj = apply(Some(&live), &pod(&["c", "d", "a"]), "y", false, &schema, T1).unwrap();
    let names: Vec<&str> = obj["spec"]["containers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["b", "c", "d", "a"]);
}

#[test]
fn user_agent_and_patch_option_validation() {
    assert_eq!(
        manager_from_user_agent("kubectl/v1.33.0 (linux/amd64) kubernetes/abc"),
        "kubectl"
    );
    assert_eq!(
        manager_from_user_agent("kube-controller-manager/v1.33.0"),
        "kube-controller-manager"
    );
    assert_eq!(manager_from_user_agent("a\u{7}b/1"), "ab");
    assert_eq!(manager_from_user_agent(&"x".repeat(300)).len(), 128);
    assert_eq!(
        manager_or_user_agent(Some("kubectl-edit"), "kubectl/v1"),
        "kubectl-edit"
    );
    assert_eq!(manager_or_user_agent(None, "kubectl/v1"), "kubectl");
    let errs = validate_patch_options("", true, false);
    assert_eq!(
        errs[0].to_string(),
        "fieldManager: Required value: is required for apply patch"
    );
    let errs = validate_patch_options("m", false, true);
    assert_eq!(
        errs[0].to_string(),
        "force: Forbidden: may not be specified for non-apply patch"
    );
    assert!(validate_patch_options("kubectl", true, true).is_empty());
    assert_eq!(validate_field_manager(&"m".repeat(129)).len(), 1);
}

#[test]
fn deep_objects_fit_in_a_tokio_worker_stack() {
    // About 500 levels of objects (below patch::MAX_DEPTH), which the walks recurse through:
    // apply and record_update must not overflow a 2 MiB stack even in debug builds.
    let mut inner = json!("leaf");
    for _ in 0..500 {
        inner = json!({"k": inner});
    }
    let mut deep =
        json!({"apiVersion": "example.com/v1", "kind": "Deep", "metadata": {"name": "d"}, "spec": {}});
    deep["spec"]["x"] = inner.clone();
    deep["spec"]["y"] = json!({"a": {"b": inner["k"]["k"]["k"]}});
    let handle = std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || {
            let schema = ApplySchema::for_kind("example.com", "Deep");
            let live = apply(None, &deep, "a", false, &schema, T0).unwrap();
            let mut new = live.clone();
            new["spec"]["z"] = json!(1);
            record_update(Some(&live), &mut new, "b", T1, "example.com/v1", &schema);
            assert!(entry(&new, "a", "Apply").is_some());
            assert!(entry(&new, "b", "Update").is_some());
            let again = apply(Some(&new), &deep, "c", false, &schema, T2).unwrap();
            assert_eq!(again["spec"]["z"], 1);
        })
        .unwrap();
    handle.join().unwrap();
    let mut too_deep = json!(1);
    for _ in 0..600 {
        too_deep = json!([too_deep]);
    }
    let cfg = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": too_deep});
    let err = apply(
        None,
        &cfg,
        "m",
        false,
        &ApplySchema::for_kind("", "ConfigMap"),
        T0,
    )
    .unwrap_err();
    assert_eq!(err.code(), 400);
}
