//! Authentication and RBAC through real clients: anonymous requests, a user with a namespaced
//! role, escalation prevention, aggregated roles and the access reviews.

mod auth_support;

use auth_support::{WAIT, anonymous_client, bind, code, get_text, namespace, object, pod, post_json, status};
use k8s_openapi::api::core::v1::{Pod, Secret};
use k8s_openapi::api::rbac::v1::{ClusterRole, Role, RoleBinding};
use kube::Api;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use rudder_testkit::{TestApiServer, eventually};
use serde_json::json;

#[tokio::test]
async fn anonymous_requests_are_refused_but_health_probes_answer() {
    let server = TestApiServer::start().await;
    let anonymous = anonymous_client(&server).await;
    for path in [
        "/api/v1/namespaces",
        "/api",
        "/apis",
        "/version",
        "/openapi/v2",
        "/metrics",
    ] {
        let err = get_text(&anonymous, path).await.expect_err(path);
        let status = status(err);
        assert_eq!(
            (status.code, status.reason.as_str()),
            (401, "Unauthorized"),
            "{path}"
        );
    }
    assert_eq!(get_text(&anonymous, "/healthz").await.expect("healthz"), "ok");
    assert_eq!(get_text(&anonymous, "/readyz").await.expect("readyz"), "ok");
}

#[tokio::test]
async fn with_anonymous_auth_the_anonymous_user_sees_only_public_info() {
    let server = TestApiServer::start_with(|c| c.auth.anonymous_auth = true).await;
    let anonymous = anonymous_client(&server).await;
    let version: serde_json::Value =
        serde_json::from_str(&get_text(&anonymous, "/version").await.expect("version")).expect("json");
    assert!(
        version["gitVersion"]
            .as_str()
            .is_some_and(|v| v.starts_with("v1."))
    );
    let status = status(
        get_text(&anonymous, "/api/v1/namespaces")
            .await
            .expect_err("forbidden"),
    );
    assert_eq!(status.code, 403);
    assert_eq!(
        status.message,
        "namespaces is forbidden: User \"system:anonymous\" cannot list resource \"namespaces\" in API group \"\" at the cluster scope"
    );
    // Discovery needs system:discovery, bound to authenticated users only.
    assert_eq!(status_code(get_text(&anonymous, "/api").await), 403);
}

fn status_code(result: Result<String, kube::Error>) -> u16 {
    code(&result)
}

#[tokio::test]
async fn a_namespaced_editor_edits_pods_there_and_nothing_elsewhere() {
    let server = TestApiServer::start().await;
    namespace(&server, "team-a").await;
    namespace(&server, "team-b").await;
    bind(&server, "team-a", "bob-edit", "edit", "bob").await;
    let bob = server.client_for("bob", &["developers"]).await;
    let pods_a: Api<Pod> = Api::namespaced(bob.clone(), "team-a");

    // The binding reaches the authorizer through the watch cache: wait for it once.
    eventually("bob may create pods in team-a", WAIT, || async {
        pods_a
            .create(&PostParams::default(), &pod("web", json!({})))
            .await
            .ok()
    })
    .await;
    let patch = json!({"metadata": {"labels": {"tier": "front"}}});
    pods_a
        .patch("web", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .expect("bob patches his pod");
    assert_eq!(
        pods_a
            .list(&ListParams::default())
            .await
            .expect("list")
            .items
            .len(),
        1
    );
    Api::<Secret>::namespaced(bob.clone(), "team-a")
        .create(
            &PostParams::default(),
            &object(json!({"metadata": {"name": "s"}})),
        )
        .await
        .expect("edit includes secrets");

    let pods_b: Api<Pod> = Api::namespaced(bob.clone(), "team-b");
    let denied = status(
        pods_b
            .list(&ListParams::default())
            .await
            .expect_err("other namespace"),
    );
    assert_eq!(denied.code, 403);
    assert_eq!(denied.reason, "Forbidden");
    assert_eq!(
        denied.message,
        "pods is forbidden: User \"bob\" cannot list resource \"pods\" in API group \"\" in the namespace \"team-b\""
    );
    let secret = Api::<Secret>::namespaced(bob.clone(), "team-b")
        .get("anything")
        .await;
    assert_eq!(code(&secret), 403);
    let all = Api::<Pod>::all(bob.clone()).list(&ListParams::default()).await;
    assert_eq!(code(&all), 403, "no cluster-wide reads");

    // edit does not manage RBAC: a binding to cluster-admin is refused outright.
    let grab = Api::<RoleBinding>::namespaced(bob.clone(), "team-a")
        .create(
            &PostParams::default(),
            &object(json!({
                "metadata": {"name": "mine"},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
                "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "bob"}],
            })),
        )
        .await;
    let denied = status(grab.expect_err("no rolebindings for editors"));
    assert_eq!(
        denied.message,
        "rolebindings.rbac.authorization.k8s.io is forbidden: User \"bob\" cannot create resource \"rolebindings\" in API group \"rbac.authorization.k8s.io\" in the namespace \"team-a\""
    );
    pods_a
        .delete("web", &DeleteParams::default())
        .await
        .expect("bob deletes his pod");
}

fn binding(name: &str, role_kind: &str, role: &str, user: &str) -> RoleBinding {
    object(json!({
        "metadata": {"name": name},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": role},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}],
    }))
}

#[tokio::test]
async fn a_namespace_admin_cannot_grant_more_than_it_holds() {
    let server = TestApiServer::start().await;
    namespace(&server, "team-a").await;
    bind(&server, "team-a", "alice-admin", "admin", "alice").await;
    let alice = server.client_for("alice", &[]).await;
    let bindings: Api<RoleBinding> = Api::namespaced(alice.clone(), "team-a");
    let roles: Api<Role> = Api::namespaced(alice.clone(), "team-a");

    // Granting what she holds is fine.
    eventually("alice may bind view", WAIT, || async {
        bindings
            .create(
                &PostParams::default(),
                &binding("carol-view", "ClusterRole", "view", "carol"),
            )
            .await
            .ok()
    })
    .await;
    // Granting more is escalation.
    let denied = status(
        bindings
            .create(
                &PostParams::default(),
                &binding("grab", "ClusterRole", "cluster-admin", "alice"),
            )
            .await
            .expect_err("escalation"),
    );
    assert_eq!(denied.code, 403);
    assert!(
        denied.message.starts_with(
            "rolebindings.rbac.authorization.k8s.io \"grab\" is forbidden: user \"alice\" (groups=[\"system:authenticated\"]) is attempting to grant RBAC permissions not currently held:\n"
        ),
        "{}",
        denied.message
    );
    assert!(
        denied
            .message
            .contains("{APIGroups:[\"*\"], Resources:[\"*\"], Verbs:[\"*\"]}"),
        "{}",
        denied.message
    );

    let all = json!({"metadata": {"name": "all"}, "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}]});
    let denied = status(
        roles
            .create(&PostParams::default(), &object(all))
            .await
            .expect_err("role escalation"),
    );
    assert_eq!(denied.code, 403);
    assert!(
        denied
            .message
            .contains("attempting to grant RBAC permissions not currently held")
    );

    let readers = json!({"metadata": {"name": "pod-reader"},
                         "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}]});
    roles
        .create(&PostParams::default(), &object(readers))
        .await
        .expect("a role within her rights");
    let widen = json!({"rules": [{"apiGroups": [""], "resources": ["nodes"], "verbs": ["*"]}]});
    let patched = roles
        .patch("pod-reader", &PatchParams::default(), &Patch::Merge(&widen))
        .await;
    assert_eq!(
        code(&patched),
        403,
        "patching in rules she lacks is escalation too"
    );

    // The cluster admin may hand out `bind` on cluster-admin; then she may bind it here.
    let admin_roles: Api<ClusterRole> = Api::all(server.client.clone());
    admin_roles
        .create(
            &PostParams::default(),
            &object(json!({"metadata": {"name": "bind-cluster-admin"}, "rules": [{
                "apiGroups": ["rbac.authorization.k8s.io"], "resources": ["clusterroles"],
                "verbs": ["bind"], "resourceNames": ["cluster-admin"]}]})),
        )
        .await
        .expect("bind role");
    bind(&server, "team-a", "alice-bind", "bind-cluster-admin", "alice").await;
    eventually("alice may bind cluster-admin in team-a", WAIT, || async {
        bindings
            .create(
                &PostParams::default(),
                &binding("grab", "ClusterRole", "cluster-admin", "alice"),
            )
            .await
            .ok()
    })
    .await;
}

#[tokio::test]
async fn aggregated_roles_gather_labelled_rules() {
    let server = TestApiServer::start().await;
    let roles: Api<ClusterRole> = Api::all(server.client.clone());
    let view = roles.get("view").await.expect("view");
    assert!(
        view.rules.as_ref().is_some_and(|r| r.iter().any(|r| r
            .resources
            .as_ref()
            .is_some_and(|x| x.iter().any(|x| x == "pods")))),
        "view aggregates system:aggregate-to-view at start"
    );
    roles
        .create(
            &PostParams::default(),
            &object(json!({
                "metadata": {"name": "widget-viewer",
                             "labels": {"rbac.authorization.k8s.io/aggregate-to-view": "true"}},
                "rules": [{"apiGroups": ["example.com"], "resources": ["widgets"], "verbs": ["get"]}],
            })),
        )
        .await
        .expect("create labelled role");
    for name in ["view", "edit", "admin"] {
        eventually(&format!("{name} gathers widgets"), WAIT, || async {
            let role = roles.get(name).await.ok()?;
            role.rules?
                .iter()
                .any(|r| {
                    r.resources
                        .as_ref()
                        .is_some_and(|x| x.contains(&"widgets".to_string()))
                })
                .then_some(())
        })
        .await;
    }
}

#[tokio::test]
async fn access_reviews_answer_for_others_and_for_oneself() {
    let server = TestApiServer::start().await;
    namespace(&server, "team-a").await;
    bind(&server, "team-a", "dave-view", "view", "dave").await;
    let sar = |verb: &str, ns: &str| {
        json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
               "spec": {"user": "dave", "groups": ["system:authenticated"],
                        "resourceAttributes": {"namespace": ns, "verb": verb, "resource": "pods"}}})
    };
    let path = "/apis/authorization.k8s.io/v1/subjectaccessreviews";
    let allowed = eventually("dave may list pods in team-a", WAIT, || async {
        let answer = post_json(&server.client, path, sar("list", "team-a"))
            .await
            .ok()?;
        (answer["status"]["allowed"] == true).then_some(answer)
    })
    .await;
    assert!(
        allowed["status"]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("RoleBinding \"dave-view\"")),
        "{allowed}"
    );
    let denied = post_json(&server.client, path, sar("delete", "team-a"))
        .await
        .expect("review");
    assert_eq!(denied["status"]["allowed"], false);

    // A local review answers in its own namespace only.
    let local = |ns: &str| json!({"spec": {"user": "dave", "resourceAttributes": {"namespace": ns, "verb": "get", "resource": "pods"}}});
    let local_path = "/apis/authorization.k8s.io/v1/namespaces/team-a/localsubjectaccessreviews";
    let answer = post_json(&server.client, local_path, local("team-a"))
        .await
        .expect("local review");
    assert_eq!(answer["status"]["allowed"], true);
    assert_eq!(
        code(&post_json(&server.client, local_path, local("default")).await),
        400
    );

    let dave = server.client_for("dave", &[]).await;
    // dave may not ask about others...
    assert_eq!(code(&post_json(&dave, path, sar("list", "team-a")).await), 403);
    // ...but about himself, and about what he holds.
    let own = post_json(
        &dave,
        "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
        json!({"spec": {"resourceAttributes": {"namespace": "team-a", "verb": "watch", "resource": "pods"}}}),
    )
    .await
    .expect("self review");
    assert_eq!(own["status"]["allowed"], true);
    let rules = post_json(
        &dave,
        "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews",
        json!({"spec": {"namespace": "team-a"}}),
    )
    .await
    .expect("rules review");
    let resource_rules = rules["status"]["resourceRules"].as_array().expect("rules");
    assert!(resource_rules.iter().any(|r| {
        r["resources"]
            .as_array()
            .is_some_and(|x| x.contains(&json!("pods")))
    }));
    assert!(
        rules["status"]["nonResourceRules"]
            .as_array()
            .is_some_and(|r| !r.is_empty())
    );
    let whoami = post_json(
        &dave,
        "/apis/authentication.k8s.io/v1/selfsubjectreviews",
        json!({"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}),
    )
    .await
    .expect("whoami");
    assert_eq!(whoami["status"]["userInfo"]["username"], "dave");
    assert_eq!(
        whoami["status"]["userInfo"]["groups"],
        json!(["system:authenticated"])
    );
}

#[tokio::test]
async fn component_identities_hold_what_the_components_do() {
    let server = TestApiServer::start().await;
    // (user, groups, verb, group, resource, subresource, namespace, name)
    let allowed = [
        (
            "system:kube-scheduler",
            "create",
            "",
            "pods",
            "binding",
            "default",
            "p",
        ),
        (
            "system:kube-scheduler",
            "patch",
            "",
            "pods",
            "status",
            "default",
            "p",
        ),
        (
            "system:kube-scheduler",
            "watch",
            "scheduling.k8s.io",
            "priorityclasses",
            "",
            "",
            "",
        ),
        (
            "system:kube-scheduler",
            "update",
            "coordination.k8s.io",
            "leases",
            "",
            "kube-system",
            "kube-scheduler",
        ),
        (
            "system:kube-proxy",
            "watch",
            "discovery.k8s.io",
            "endpointslices",
            "",
            "",
            "",
        ),
        ("system:kube-proxy", "list", "", "services", "", "", ""),
        (
            "system:kube-controller-manager",
            "watch",
            "apps",
            "deployments",
            "",
            "",
            "",
        ),
        (
            "system:kube-controller-manager",
            "create",
            "",
            "serviceaccounts",
            "token",
            "kube-system",
            "x",
        ),
        (
            "system:serviceaccount:kube-system:deployment-controller",
            "patch",
            "apps",
            "replicasets",
            "",
            "ns",
            "r",
        ),
        (
            "system:serviceaccount:kube-system:namespace-controller",
            "update",
            "",
            "namespaces",
            "finalize",
            "",
            "ns",
        ),
    ];
    let denied = [
        (
            "system:kube-scheduler",
            "update",
            "coordination.k8s.io",
            "leases",
            "",
            "kube-system",
            "kube-controller-manager",
        ),
        ("system:kube-proxy", "create", "", "pods", "", "default", ""),
        (
            "system:kube-controller-manager",
            "create",
            "apps",
            "deployments",
            "",
            "default",
            "",
        ),
    ];
    let path = "/apis/authorization.k8s.io/v1/subjectaccessreviews";
    for (cases, want) in [(&allowed[..], true), (&denied[..], false)] {
        for (user, verb, group, resource, sub, ns, name) in cases {
            let review = json!({"spec": {"user": user, "groups": ["system:authenticated"],
                "resourceAttributes": {"verb": verb, "group": group, "resource": resource,
                                       "subresource": sub, "namespace": ns, "name": name}}});
            let answer = post_json(&server.client, path, review).await.expect("review");
            assert_eq!(
                answer["status"]["allowed"], want,
                "{user} {verb} {group}/{resource}/{sub} in {ns:?}: {answer}"
            );
        }
    }
}
