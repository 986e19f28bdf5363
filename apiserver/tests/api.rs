//! The apiserver through a real client (kube-rs) against the in-process server on the embedded
//! store: object semantics, errors, lists, watches.

use std::collections::BTreeMap;
use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::Api;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams};
use rudder_testkit::{Backend, TestApiServer};
use serde_json::json;

fn cm(name: &str, labels: &[(&str, &str)]) -> ConfigMap {
    serde_json::from_value(json!({
        "metadata": {
            "name": name,
            "labels": labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<BTreeMap<_, _>>(),
        },
        "data": {"k": "v"},
    }))
    .expect("configmap")
}

fn api_error(err: kube::Error) -> kube::core::Status {
    match err {
        kube::Error::Api(status) => *status,
        other => panic!("expected an API error, got {other}"),
    }
}

async fn namespace(server: &TestApiServer, name: &str) {
    let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": name}})).expect("ns");
    Api::<Namespace>::all(server.client.clone())
        .create(&PostParams::default(), &ns)
        .await
        .expect("create namespace");
}

#[tokio::test]
async fn create_get_update_with_optimistic_concurrency() {
    let server = TestApiServer::start().await;
    let cms: Api<ConfigMap> = Api::namespaced(server.client.clone(), "default");
    let created = cms
        .create(&PostParams::default(), &cm("a", &[]))
        .await
        .expect("create");
    let meta = &created.metadata;
    assert!(meta.uid.as_deref().is_some_and(|u| u.len() == 36));
    assert!(meta.creation_timestamp.is_some());
    let rv = meta.resource_version.clone().expect("resourceVersion");

    let mut changed = created.clone();
    changed.data = Some(BTreeMap::from([("k".to_string(), "w".to_string())]));
    let updated = cms
        .replace("a", &PostParams::default(), &changed)
        .await
        .expect("update");
    assert_ne!(
        updated.metadata.resource_version,
        Some(rv.clone()),
        "an update moves the resourceVersion"
    );
    assert_eq!(updated.metadata.uid, created.metadata.uid, "uid is kept");

    // The stale copy conflicts, with upstream's message.
    let err = api_error(
        cms.replace("a", &PostParams::default(), &changed)
            .await
            .unwrap_err(),
    );
    assert_eq!((err.code, err.reason.as_str()), (409, "Conflict"));
    assert_eq!(
        err.message,
        r#"Operation cannot be fulfilled on configmaps "a": the object has been modified; please apply your changes to the latest version and try again"#
    );
    let err = api_error(
        cms.create(&PostParams::default(), &cm("a", &[]))
            .await
            .unwrap_err(),
    );
    assert_eq!(
        (err.code, err.reason.as_str(), err.message.as_str()),
        (409, "AlreadyExists", r#"configmaps "a" already exists"#)
    );
    let err = api_error(cms.get("missing").await.unwrap_err());
    assert_eq!(
        (err.code, err.message.as_str()),
        (404, r#"configmaps "missing" not found"#)
    );
}

#[tokio::test]
async fn generate_name_generation_and_status_split() {
    let server = TestApiServer::start().await;
    let deploys: Api<Deployment> = Api::namespaced(server.client.clone(), "default");
    let deploy: Deployment = serde_json::from_value(json!({
        "metadata": {"generateName": "web-"},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}}},
        "status": {"replicas": 99},
    }))
    .expect("deployment");
    let created = deploys
        .create(&PostParams::default(), &deploy)
        .await
        .expect("create");
    let name = created.metadata.name.clone().expect("generated name");
    assert!(
        name.starts_with("web-") && name.len() == 9,
        "generated name {name}"
    );
    assert_eq!(created.metadata.generation, Some(1));

    // A status write does not touch the spec or the generation; a spec write does not touch status.
    let status = Patch::Merge(json!({"status": {"replicas": 1, "readyReplicas": 1}}));
    let after_status = deploys
        .patch_status(&name, &PatchParams::default(), &status)
        .await
        .expect("status patch");
    assert_eq!(after_status.metadata.generation, Some(1));
    assert_eq!(
        after_status.status.as_ref().and_then(|s| s.ready_replicas),
        Some(1)
    );
    let spec = Patch::Merge(json!({"spec": {"replicas": 3}, "status": {"replicas": 7}}));
    let after_spec = deploys
        .patch(&name, &PatchParams::default(), &spec)
        .await
        .expect("spec patch");
    assert_eq!(
        after_spec.metadata.generation,
        Some(2),
        "a spec change bumps the generation"
    );
    assert_eq!(
        after_spec.status.and_then(|s| s.replicas),
        Some(1),
        "status is only written through /status"
    );

    // Labels alone do not bump the generation.
    let labels = Patch::Merge(json!({"metadata": {"labels": {"x": "y"}}}));
    let after_labels = deploys
        .patch(&name, &PatchParams::default(), &labels)
        .await
        .expect("label patch");
    assert_eq!(after_labels.metadata.generation, Some(2));

    let scale = deploys.get_scale(&name).await.expect("scale");
    assert_eq!(scale.spec.and_then(|s| s.replicas), Some(3));
}

#[tokio::test]
async fn finalizers_hold_deletion_until_removed() {
    let server = TestApiServer::start().await;
    let cms: Api<ConfigMap> = Api::namespaced(server.client.clone(), "default");
    let mut held = cm("held", &[]);
    held.metadata.finalizers = Some(vec!["example.com/hold".into()]);
    cms.create(&PostParams::default(), &held).await.expect("create");
    cms.delete("held", &DeleteParams::default())
        .await
        .expect("delete");
    let marked = cms.get("held").await.expect("still there");
    assert!(
        marked.metadata.deletion_timestamp.is_some(),
        "marked for deletion"
    );
    let clear = Patch::Merge(json!({"metadata": {"finalizers": null}}));
    cms.patch("held", &PatchParams::default(), &clear)
        .await
        .expect("remove finalizer");
    let err = api_error(cms.get("held").await.unwrap_err());
    assert_eq!(err.code, 404, "the object goes with its last finalizer");

    // Foreground deletion adds its finalizer.
    cms.create(&PostParams::default(), &cm("fg", &[]))
        .await
        .expect("create");
    cms.delete("fg", &DeleteParams::foreground())
        .await
        .expect("delete");
    let fg = cms.get("fg").await.expect("kept");
    assert_eq!(
        fg.metadata.finalizers,
        Some(vec!["foregroundDeletion".to_string()])
    );
}

#[tokio::test]
async fn validation_and_namespace_errors() {
    let server = TestApiServer::start().await;
    let cms: Api<ConfigMap> = Api::namespaced(server.client.clone(), "default");
    let err = api_error(
        cms.create(&PostParams::default(), &cm("Bad_Name", &[]))
            .await
            .unwrap_err(),
    );
    assert_eq!((err.code, err.reason.as_str()), (422, "Invalid"));
    assert!(
        err.message
            .starts_with(r#"ConfigMap "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name""#),
        "{}",
        err.message
    );

    let missing: Api<ConfigMap> = Api::namespaced(server.client.clone(), "nowhere");
    let err = api_error(
        missing
            .create(&PostParams::default(), &cm("x", &[]))
            .await
            .unwrap_err(),
    );
    assert_eq!(
        (err.code, err.message.as_str()),
        (404, r#"namespaces "nowhere" not found"#)
    );

    namespace(&server, "doomed").await;
    Api::<Namespace>::all(server.client.clone())
        .delete("doomed", &DeleteParams::default())
        .await
        .expect("delete ns");
    let doomed: Api<ConfigMap> = Api::namespaced(server.client.clone(), "doomed");
    let err = api_error(
        doomed
            .create(&PostParams::default(), &cm("x", &[]))
            .await
            .unwrap_err(),
    );
    assert_eq!(err.code, 403);
    assert!(
        err.message.contains("because it is being terminated"),
        "{}",
        err.message
    );

    let err = api_error(
        cms.list(&ListParams::default().fields("spec.nodeName=x"))
            .await
            .unwrap_err(),
    );
    assert_eq!(
        (err.code, err.message.as_str()),
        (400, "field label not supported: spec.nodeName")
    );
}

#[tokio::test]
async fn lists_paginate_and_select() {
    let server = TestApiServer::start().await;
    namespace(&server, "many").await;
    let cms: Api<ConfigMap> = Api::namespaced(server.client.clone(), "many");
    for i in 0..25 {
        let tier = if i % 2 == 0 { "even" } else { "odd" };
        cms.create(
            &PostParams::default(),
            &cm(&format!("cm-{i:02}"), &[("tier", tier)]),
        )
        .await
        .expect("create");
    }
    let mut names = Vec::new();
    let mut params = ListParams::default().limit(10);
    let mut pages = 0;
    loop {
        let page = cms.list(&params).await.expect("page");
        pages += 1;
        names.extend(page.items.iter().filter_map(|c| c.metadata.name.clone()));
        match page.metadata.continue_.filter(|c| !c.is_empty()) {
            Some(token) => {
                if pages == 1 {
                    assert_eq!(page.metadata.remaining_item_count, Some(15));
                }
                params = params.continue_token(&token)
            }
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(names, (0..25).map(|i| format!("cm-{i:02}")).collect::<Vec<_>>());

    let odd = cms
        .list(&ListParams::default().labels("tier in (odd)"))
        .await
        .expect("labels");
    assert_eq!(odd.items.len(), 12);
    let one = cms
        .list(&ListParams::default().fields("metadata.name=cm-03"))
        .await
        .expect("fields");
    assert_eq!(one.items.len(), 1);
    let cached = cms
        .list(&ListParams::default().match_any())
        .await
        .expect("resourceVersion=0 list");
    assert_eq!(cached.items.len(), 25);
}

type EventStream = futures::stream::BoxStream<'static, kube::Result<WatchEvent<ConfigMap>>>;

async fn next_event(stream: &mut EventStream) -> WatchEvent<ConfigMap> {
    let event = tokio::time::timeout(Duration::from_secs(10), stream.try_next()).await;
    event.expect("event in time").expect("ok").expect("open")
}

#[tokio::test]
async fn watches_replay_from_a_revision_and_follow_selectors() {
    let server = TestApiServer::start().await;
    let cms: Api<ConfigMap> = Api::namespaced(server.client.clone(), "default");
    let first = cms
        .create(&PostParams::default(), &cm("w1", &[("app", "x")]))
        .await
        .expect("create");
    let rv = first.metadata.resource_version.clone().expect("rv");
    cms.create(&PostParams::default(), &cm("w2", &[("app", "x")]))
        .await
        .expect("create");

    let mut stream = cms
        .watch(&WatchParams::default().labels("app=x").timeout(30), &rv)
        .await
        .expect("watch")
        .boxed();
    match next_event(&mut stream).await {
        WatchEvent::Added(c) => assert_eq!(c.metadata.name.as_deref(), Some("w2"), "replay starts after rv"),
        other => panic!("expected ADDED w2, got {other:?}"),
    }
    // Leaving the selector reads as a deletion for this watcher.
    let relabel = Patch::Merge(json!({"metadata": {"labels": {"app": "y"}}}));
    cms.patch("w1", &PatchParams::default(), &relabel)
        .await
        .expect("relabel");
    match next_event(&mut stream).await {
        WatchEvent::Deleted(c) => assert_eq!(c.metadata.name.as_deref(), Some("w1")),
        other => panic!("expected DELETED w1, got {other:?}"),
    }
    cms.delete("w2", &DeleteParams::default()).await.expect("delete");
    match next_event(&mut stream).await {
        WatchEvent::Deleted(c) => assert_eq!(c.metadata.name.as_deref(), Some("w2")),
        other => panic!("expected DELETED w2, got {other:?}"),
    }
}

#[tokio::test]
async fn the_same_semantics_hold_on_etcd() {
    let server = TestApiServer::start_on(Backend::Etcd).await;
    let cms: Api<ConfigMap> = Api::namespaced(server.client.clone(), "default");
    let created = cms
        .create(&PostParams::default(), &cm("e", &[]))
        .await
        .expect("create on etcd");
    let rv: i64 = created
        .metadata
        .resource_version
        .as_deref()
        .unwrap_or("0")
        .parse()
        .expect("numeric rv");
    assert!(rv > 0);
    let err = api_error(
        cms.create(&PostParams::default(), &cm("e", &[]))
            .await
            .unwrap_err(),
    );
    assert_eq!(err.code, 409);
    let listed = cms.list(&ListParams::default()).await.expect("list");
    assert_eq!(listed.items.len(), 1);
}

#[tokio::test]
async fn both_event_apis_see_the_same_events() {
    use k8s_openapi::api::core::v1::Event as CoreEvent;
    use k8s_openapi::api::events::v1::Event;
    let server = TestApiServer::start().await;
    let events: Api<Event> = Api::namespaced(server.client.clone(), "default");
    let event: Event = serde_json::from_value(json!({
        "metadata": {"name": "web.1"},
        "eventTime": "2026-11-21T10:00:00.000000Z",
        "regarding": {"kind": "Pod", "name": "web", "namespace": "default"},
        "note": "Pulled image", "reason": "Pulled", "type": "Normal", "action": "Pull",
        "reportingController": "kubelet", "reportingInstance": "node-1",
    }))
    .expect("event");
    events
        .create(&PostParams::default(), &event)
        .await
        .expect("create events.k8s.io event");
    let core: Api<CoreEvent> = Api::namespaced(server.client.clone(), "default");
    let seen = core.get("web.1").await.expect("visible through core v1");
    assert_eq!(seen.message.as_deref(), Some("Pulled image"));
    assert_eq!(seen.involved_object.name.as_deref(), Some("web"));
    assert_eq!(seen.reporting_component.as_deref(), Some("kubelet"));
    let by_field = core
        .list(&ListParams::default().fields("involvedObject.name=web"))
        .await
        .expect("field selector");
    assert_eq!(by_field.items.len(), 1);
    let back = events.get("web.1").await.expect("and through events.k8s.io");
    assert_eq!(back.note.as_deref(), Some("Pulled image"));
    assert_eq!(back.regarding.and_then(|r| r.name).as_deref(), Some("web"));
}

#[tokio::test]
async fn a_custom_resource_definition_is_served_and_its_deletion_removes_its_objects() {
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
    use kube::api::{ApiResource, DynamicObject};
    use kube::core::GroupVersionKind;
    let server = TestApiServer::start().await;
    let crds: Api<CustomResourceDefinition> = Api::all(server.client.clone());
    let crd: CustomResourceDefinition = serde_json::from_value(json!({
        "metadata": {"name": "gadgets.example.com"},
        "spec": {"group": "example.com", "scope": "Namespaced",
                 "names": {"kind": "Gadget", "plural": "gadgets"},
                 "versions": [{"name": "v1", "served": true, "storage": true,
                               "subresources": {"status": {}},
                               "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}]},
    }))
    .expect("crd");
    crds.create(&PostParams::default(), &crd)
        .await
        .expect("create crd");
    let established =
        rudder_testkit::eventually("the CRD to be established", Duration::from_secs(10), || async {
            let crd = crds.get("gadgets.example.com").await.ok()?;
            let conditions = crd.status?.conditions?;
            conditions
                .iter()
                .any(|c| c.type_ == "Established" && c.status == "True")
                .then_some(())
        })
        .await;
    let () = established;
    let resource =
        ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk("example.com", "v1", "Gadget"), "gadgets");
    let gadgets: Api<DynamicObject> = Api::namespaced_with(server.client.clone(), "default", &resource);
    let gadget: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "example.com/v1", "kind": "Gadget", "metadata": {"name": "g1"}, "spec": {"size": 3},
    }))
    .expect("gadget");
    let created = gadgets
        .create(&PostParams::default(), &gadget)
        .await
        .expect("create custom object");
    assert_eq!(created.metadata.generation, Some(1));
    let status = Patch::Merge(json!({"status": {"ready": true}, "spec": {"size": 9}}));
    let patched = gadgets
        .patch_status("g1", &PatchParams::default(), &status)
        .await
        .expect("status patch");
    assert_eq!(patched.data["status"]["ready"], true);
    assert_eq!(
        patched.data["spec"]["size"], 3,
        "a status write leaves the spec alone"
    );

    crds.delete("gadgets.example.com", &DeleteParams::default())
        .await
        .expect("delete crd");
    rudder_testkit::eventually("the CRD to go", Duration::from_secs(10), || async {
        crds.get("gadgets.example.com").await.is_err().then_some(())
    })
    .await;
    let err = api_error(gadgets.get("g1").await.unwrap_err());
    assert_eq!(
        err.code, 404,
        "custom objects and their API go with the definition"
    );
}

#[tokio::test]
async fn server_side_apply_tracks_owners_and_reports_conflicts() {
    let server = TestApiServer::start().await;
    let cms: Api<ConfigMap> = Api::namespaced(server.client.clone(), "default");
    let config = |value: &str| json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ssa"}, "data": {"k": value}});
    let first = cms
        .patch("ssa", &PatchParams::apply("alice"), &Patch::Apply(config("1")))
        .await
        .expect("apply creates");
    let managers: Vec<_> = first
        .metadata
        .managed_fields
        .iter()
        .flatten()
        .filter_map(|m| m.manager.clone())
        .collect();
    assert_eq!(managers, vec!["alice".to_string()]);
    let err = api_error(
        cms.patch("ssa", &PatchParams::apply("bob"), &Patch::Apply(config("2")))
            .await
            .unwrap_err(),
    );
    assert_eq!((err.code, err.reason.as_str()), (409, "Conflict"));
    assert!(
        err.message.contains(r#"conflict with "alice""#) && err.message.contains(".data.k"),
        "{}",
        err.message
    );
    let forced = cms
        .patch(
            "ssa",
            &PatchParams::apply("bob").force(),
            &Patch::Apply(config("2")),
        )
        .await
        .expect("force");
    assert_eq!(
        forced.data.and_then(|d| d.get("k").cloned()).as_deref(),
        Some("2")
    );
    // Applying without a field that only this manager owned removes it.
    let mut less = config("2");
    less["data"]["extra"] = json!("x");
    cms.patch("ssa", &PatchParams::apply("bob"), &Patch::Apply(less))
        .await
        .expect("add extra");
    let trimmed = cms
        .patch("ssa", &PatchParams::apply("bob"), &Patch::Apply(config("2")))
        .await
        .expect("drop extra");
    assert!(
        trimmed.data.is_some_and(|d| !d.contains_key("extra")),
        "a dropped field goes"
    );
}

#[tokio::test]
async fn metadata_only_lists_and_gets() {
    let server = TestApiServer::start().await;
    let cms: Api<ConfigMap> = Api::namespaced(server.client.clone(), "default");
    cms.create(&PostParams::default(), &cm("meta", &[("a", "b")]))
        .await
        .expect("create");
    let list = cms
        .list_metadata(&ListParams::default())
        .await
        .expect("metadata list");
    assert_eq!(list.items.len(), 1);
    assert_eq!(
        list.items[0]
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get("a"))
            .map(String::as_str),
        Some("b")
    );
    let one = cms.get_metadata("meta").await.expect("metadata get");
    assert_eq!(one.metadata.name.as_deref(), Some("meta"));
}

/// A namespace is usable the moment its create returns, even before the watch cache has seen
/// it (the check falls back to storage, as upstream's NamespaceLifecycle does).
#[tokio::test]
async fn objects_can_be_created_in_a_namespace_right_after_it_is_created() {
    let server = TestApiServer::start().await;
    for i in 0..40 {
        let name = format!("fresh-{i}");
        namespace(&server, &name).await;
        Api::<ConfigMap>::namespaced(server.client.clone(), &name)
            .create(&PostParams::default(), &cm("first", &[]))
            .await
            .unwrap_or_else(|e| panic!("create in namespace {name} right after creating it: {e}"));
    }
    let missing = Api::<ConfigMap>::namespaced(server.client.clone(), "never-created")
        .create(&PostParams::default(), &cm("x", &[]))
        .await
        .expect_err("a namespace that does not exist");
    assert_eq!(api_error(missing).code, 404);
}
