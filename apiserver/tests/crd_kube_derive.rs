//! A real external client: kube-rs with `#[derive(CustomResource)]` against the in-process
//! server: the CRD from `Foo::crd()`, established; typed create, status patch, watch, and
//! server-side apply of a Foo; the derived schema enforced.

use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Patch, PatchParams, PostParams};
use kube::runtime::wait::{await_condition, conditions};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, CustomResource, CustomResourceExt};
use rudder_testkit::TestApiServer;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

#[derive(CustomResource, Deserialize, Serialize, Clone, Debug, JsonSchema)]
#[kube(
    group = "rudder.example.com",
    version = "v1",
    kind = "Foo",
    namespaced,
    status = "FooStatus",
    shortname = "fo",
    printcolumn = r#"{"name":"Replicas", "type":"integer", "jsonPath":".spec.replicas"}"#
)]
pub struct FooSpec {
    name: String,
    replicas: i32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    info: Option<String>,
}

#[derive(Deserialize, Serialize, Clone, Debug, Default, JsonSchema)]
pub struct FooStatus {
    is_bad: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    replicas: Option<i32>,
}

#[tokio::test]
async fn a_derived_custom_resource_works_end_to_end() {
    let server = TestApiServer::start().await;
    let client = server.client.clone();
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    crds.create(&PostParams::default(), &Foo::crd())
        .await
        .expect("create the derived CRD");
    let established = await_condition(
        crds.clone(),
        "foos.rudder.example.com",
        conditions::is_crd_established(),
    );
    tokio::time::timeout(Duration::from_secs(10), established)
        .await
        .expect("established in time")
        .expect("watching the CRD");

    let foos: Api<Foo> = Api::namespaced(client.clone(), "default");
    // Watch from the start: the events of what follows must arrive.
    let mut events = watcher(foos.clone(), watcher::Config::default())
        .applied_objects()
        .boxed();

    let foo = Foo::new(
        "one",
        FooSpec {
            name: "first".into(),
            replicas: 1,
            info: None,
        },
    );
    let created = foos
        .create(&PostParams::default(), &foo)
        .await
        .expect("create a Foo");
    assert_eq!(created.spec.replicas, 1);
    assert_eq!(created.metadata.generation, Some(1));

    let seen = tokio::time::timeout(Duration::from_secs(10), events.try_next())
        .await
        .expect("an event in time")
        .expect("the watch stream")
        .expect("an object");
    assert_eq!(seen.metadata.name.as_deref(), Some("one"));

    let status = Patch::Merge(json!({"status": {"is_bad": true, "replicas": 1}}));
    let patched = foos
        .patch_status("one", &PatchParams::default(), &status)
        .await
        .expect("patch status");
    assert_eq!(patched.status.as_ref().map(|s| s.is_bad), Some(true));
    assert_eq!(
        patched.metadata.generation,
        Some(1),
        "status writes keep the generation"
    );

    let applied = json!({
        "apiVersion": "rudder.example.com/v1", "kind": "Foo",
        "metadata": {"name": "one"},
        "spec": {"name": "first", "replicas": 3, "info": "applied"}
    });
    let params = PatchParams::apply("derive-test").force();
    let after = foos
        .patch("one", &params, &Patch::Apply(&applied))
        .await
        .expect("server-side apply");
    assert_eq!(after.spec.replicas, 3);
    assert_eq!(after.spec.info.as_deref(), Some("applied"));
    assert_eq!(after.metadata.generation, Some(2));
    let managers: Vec<String> = after
        .metadata
        .managed_fields
        .iter()
        .flatten()
        .filter_map(|m| m.manager.clone())
        .collect();
    assert!(managers.contains(&"derive-test".to_string()), "{managers:?}");

    // Events arrive in order: the applied object follows (the status write may come first).
    let replicas = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(foo) = events.try_next().await.expect("the watch stream") {
            if foo.spec.replicas == 3 {
                return foo.spec.replicas;
            }
        }
        0
    })
    .await
    .expect("the apply seen by the watch in time");
    assert_eq!(replicas, 3);

    // The derived schema is enforced: `replicas` is an integer.
    let bad = json!({"apiVersion": "rudder.example.com/v1", "kind": "Foo", "metadata": {"name": "two"},
                     "spec": {"name": "second", "replicas": "many"}});
    let err = foos
        .patch("two", &PatchParams::apply("derive-test"), &Patch::Apply(&bad))
        .await
        .expect_err("a string where an integer belongs");
    match err {
        kube::Error::Api(status) => {
            assert_eq!(status.code, 422);
            assert!(
                status
                    .message
                    .contains(r#"spec.replicas: Invalid value: "string": spec.replicas in body must be of type integer: "string""#),
                "{}",
                status.message
            );
        }
        other => panic!("unexpected error {other}"),
    }
    let missing = json!({"apiVersion": "rudder.example.com/v1", "kind": "Foo", "metadata": {"name": "two"},
                         "spec": {"replicas": 1}});
    let err = foos
        .patch("two", &PatchParams::apply("derive-test"), &Patch::Apply(&missing))
        .await
        .expect_err("name is required");
    assert!(err.to_string().contains("spec.name: Required value"), "{err}");
}
