use serde_json::{Value, json};

use super::*;

const KUBECTL_1_27_ACCEPT: &str =
    "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json";
const KUBECTL_1_33_ACCEPT: &str = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,\
     application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json";

fn builtins() -> Vec<DiscoveryResource> {
    DiscoveryResource::builtins()
}

fn item<'a>(list: &'a Value, group: &str) -> &'a Value {
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["metadata"]["name"] == group)
        .unwrap()
}

fn version<'a>(group: &'a Value, v: &str) -> &'a Value {
    group["versions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["version"] == v)
        .unwrap()
}

fn resource<'a>(version: &'a Value, plural: &str) -> &'a Value {
    version["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["resource"] == plural)
        .unwrap()
}

fn legacy_entry<'a>(list: &'a Value, name: &str) -> &'a Value {
    list["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == name)
        .unwrap()
}

#[test]
fn discovery_aggregated_apps_matches_contract_example() {
    let doc = aggregated_apis(&builtins(), AggregatedVersion::V2);
    assert_eq!(doc["kind"], "APIGroupDiscoveryList");
    assert_eq!(doc["apiVersion"], "apidiscovery.k8s.io/v2");
    assert_eq!(doc["metadata"], json!({}));
    let apps = item(&doc, "apps");
    assert_eq!(apps["metadata"], json!({"name": "apps"}));
    let v1 = version(apps, "v1");
    assert_eq!(v1["freshness"], "Current");
    // kubectl-contract §3.3, verbatim.
    let want = json!({"resource":"deployments","singularResource":"deployment",
       "responseKind":{"group":"apps","version":"v1","kind":"Deployment"},
       "scope":"Namespaced",
       "verbs":["create","delete","deletecollection","get","list","patch","update","watch"],
       "shortNames":["deploy"],"categories":["all"],
       "subresources":[
         {"subresource":"scale","responseKind":{"group":"autoscaling","version":"v1","kind":"Scale"},"verbs":["get","patch","update"]},
         {"subresource":"status","responseKind":{"group":"apps","version":"v1","kind":"Deployment"},"verbs":["get","patch","update"]}]});
    assert_eq!(resource(v1, "deployments"), &want);
    let plurals: Vec<_> = v1["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["resource"].clone())
        .collect();
    assert_eq!(
        plurals,
        [
            "controllerrevisions",
            "daemonsets",
            "deployments",
            "replicasets",
            "statefulsets"
        ]
    );
    // Optional lists are omitted when empty, like upstream's omitempty.
    let revisions = resource(v1, "controllerrevisions");
    for key in ["shortNames", "categories", "subresources"] {
        assert!(revisions.get(key).is_none(), "{key}");
    }
}

#[test]
fn discovery_aggregated_api_is_core_only() {
    let doc = aggregated_api(&builtins(), AggregatedVersion::V2);
    let items = doc["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["metadata"], json!({"name": ""}));
    let versions = items[0]["versions"].as_array().unwrap();
    assert_eq!(versions.len(), 1);
    let v1 = &versions[0];
    assert_eq!(v1["version"], "v1");
    let pods = resource(v1, "pods");
    assert_eq!(
        pods["responseKind"],
        json!({"group": "", "version": "v1", "kind": "Pod"})
    );
    assert_eq!(pods["scope"], "Namespaced");
    assert_eq!(pods["shortNames"], json!(["po"]));
    let subs: Vec<_> = pods["subresources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["subresource"].clone())
        .collect();
    assert_eq!(
        subs,
        [
            "attach",
            "binding",
            "ephemeralcontainers",
            "eviction",
            "exec",
            "log",
            "portforward",
            "proxy",
            "resize",
            "status"
        ]
    );
    let eviction = pods["subresources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["subresource"] == "eviction")
        .unwrap();
    assert_eq!(
        eviction["responseKind"],
        json!({"group": "policy", "version": "v1", "kind": "Eviction"})
    );
    assert_eq!(eviction["verbs"], json!(["create"]));
    assert_eq!(resource(v1, "nodes")["scope"], "Cluster");
    assert_eq!(resource(v1, "endpoints")["singularResource"], "endpoints");
}

#[test]
fn discovery_aggregated_apis_orders_groups_and_versions() {
    let doc = aggregated_apis(&builtins(), AggregatedVersion::V2);
    let names: Vec<_> = doc["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["metadata"]["name"].clone())
        .collect();
    assert_eq!(names.first(), Some(&json!("apps")));
    assert!(
        !names.contains(&json!("")),
        "/apis must not contain the core group"
    );
    assert_eq!(names.len(), crate::resources::groups().len() - 1);
    let autoscaling = item(&doc, "autoscaling");
    let versions: Vec<_> = autoscaling["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].clone())
        .collect();
    assert_eq!(versions, ["v2", "v1"]);
    let hpa = resource(version(autoscaling, "v1"), "horizontalpodautoscalers");
    assert_eq!(
        hpa["responseKind"],
        json!({"group": "autoscaling", "version": "v1", "kind": "HorizontalPodAutoscaler"})
    );
    let crd = resource(
        version(item(&doc, "apiextensions.k8s.io"), "v1"),
        "customresourcedefinitions",
    );
    assert_eq!(crd["categories"], json!(["api-extensions"]));
    assert_eq!(crd["shortNames"], json!(["crd", "crds"]));
    assert_eq!(crd["scope"], "Cluster");
}

#[test]
fn discovery_aggregated_every_resource_and_subresource_has_response_kind() {
    let rs = builtins();
    for doc in [
        aggregated_api(&rs, AggregatedVersion::V2),
        aggregated_apis(&rs, AggregatedVersion::V2),
    ] {
        for group in doc["items"].as_array().unwrap() {
            for v in group["versions"].as_array().unwrap() {
                assert_eq!(v["freshness"], "Current");
                for r in v["resources"].as_array().unwrap() {
                    let kinds = std::iter::once(r).chain(r["subresources"].as_array().into_iter().flatten());
                    for x in kinds {
                        let rk = &x["responseKind"];
                        assert!(rk["kind"].as_str().is_some_and(|k| !k.is_empty()), "{x}");
                        assert!(rk["version"].as_str().is_some_and(|v| !v.is_empty()), "{x}");
                        assert!(rk["group"].is_string(), "{x}");
                        assert!(x["verbs"].as_array().is_some_and(|v| !v.is_empty()), "{x}");
                    }
                    assert!(r["scope"] == "Namespaced" || r["scope"] == "Cluster");
                    assert!(r["singularResource"].as_str().is_some_and(|s| !s.is_empty()));
                }
            }
        }
    }
}

#[test]
fn discovery_aggregated_v2beta1_differs_only_in_api_version() {
    let rs = builtins();
    for f in [aggregated_api, aggregated_apis] {
        let mut beta = f(&rs, AggregatedVersion::V2Beta1);
        assert_eq!(beta["apiVersion"], "apidiscovery.k8s.io/v2beta1");
        beta["apiVersion"] = json!("apidiscovery.k8s.io/v2");
        assert_eq!(beta, f(&rs, AggregatedVersion::V2));
    }
}

#[test]
fn discovery_legacy_api_versions() {
    assert_eq!(
        api_versions("10.0.0.1:6443"),
        json!({"kind":"APIVersions","versions":["v1"],
               "serverAddressByClientCIDRs":[{"clientCIDR":"0.0.0.0/0","serverAddress":"10.0.0.1:6443"}]})
    );
}

#[test]
fn discovery_legacy_group_list_and_group() {
    let rs = builtins();
    let list = api_group_list(&rs);
    assert_eq!(list["kind"], "APIGroupList");
    assert_eq!(list["apiVersion"], "v1");
    let groups = list["groups"].as_array().unwrap();
    // kubectl-contract §3.4, verbatim.
    assert_eq!(
        groups[0],
        json!({"name":"apps","versions":[{"groupVersion":"apps/v1","version":"v1"}],
               "preferredVersion":{"groupVersion":"apps/v1","version":"v1"}})
    );
    assert!(groups.iter().all(|g| g["name"] != ""));
    let autoscaling = groups.iter().find(|g| g["name"] == "autoscaling").unwrap();
    assert_eq!(
        autoscaling["preferredVersion"],
        json!({"groupVersion": "autoscaling/v2", "version": "v2"})
    );
    assert_eq!(
        autoscaling["versions"][1],
        json!({"groupVersion": "autoscaling/v1", "version": "v1"})
    );
    // Same groups, same order as the aggregated document.
    let agg = aggregated_apis(&rs, AggregatedVersion::V2);
    let agg_names: Vec<_> = agg["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["metadata"]["name"].clone())
        .collect();
    let names: Vec<_> = groups.iter().map(|g| g["name"].clone()).collect();
    assert_eq!(names, agg_names);

    assert_eq!(
        api_group(&rs, "apps"),
        Some(json!({"kind":"APIGroup","apiVersion":"v1","name":"apps",
                    "versions":[{"groupVersion":"apps/v1","version":"v1"}],
                    "preferredVersion":{"groupVersion":"apps/v1","version":"v1"}}))
    );
    assert_eq!(
        api_group(&rs, "autoscaling").unwrap()["versions"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(api_group(&rs, "extensions"), None);
    assert_eq!(api_group(&rs, ""), None);
}

#[test]
fn discovery_legacy_resource_list_apps_matches_contract_example() {
    let list = api_resource_list(&builtins(), "apps", "v1").unwrap();
    assert_eq!(list["kind"], "APIResourceList");
    assert_eq!(list["apiVersion"], "v1");
    assert_eq!(list["groupVersion"], "apps/v1");
    // kubectl-contract §3.4 (storageVersionHash omitted).
    assert_eq!(
        legacy_entry(&list, "deployments"),
        &json!({"name":"deployments","singularName":"deployment","namespaced":true,"kind":"Deployment",
                "verbs":["create","delete","deletecollection","get","list","patch","update","watch"],
                "shortNames":["deploy"],"categories":["all"]})
    );
    assert_eq!(
        legacy_entry(&list, "deployments/scale"),
        &json!({"name":"deployments/scale","singularName":"","namespaced":true,"group":"autoscaling",
                "version":"v1","kind":"Scale","verbs":["get","patch","update"]})
    );
    assert_eq!(
        legacy_entry(&list, "deployments/status"),
        &json!({"name":"deployments/status","singularName":"","namespaced":true,"kind":"Deployment",
                "verbs":["get","patch","update"]})
    );
    let names: Vec<_> = list["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].clone())
        .collect();
    assert_eq!(
        names,
        [
            "controllerrevisions",
            "daemonsets",
            "daemonsets/status",
            "deployments",
            "deployments/scale",
            "deployments/status",
            "replicasets",
            "replicasets/scale",
            "replicasets/status",
            "statefulsets",
            "statefulsets/scale",
            "statefulsets/status"
        ]
    );
}

#[test]
fn discovery_legacy_core_resource_list() {
    let list = api_resource_list(&builtins(), "", "v1").unwrap();
    assert_eq!(list["groupVersion"], "v1");
    assert!(
        list.get("apiVersion").is_none(),
        "upstream's /api/v1 list has no apiVersion"
    );
    // kubectl drain needs group/version on pods/eviction.
    assert_eq!(
        legacy_entry(&list, "pods/eviction"),
        &json!({"name":"pods/eviction","singularName":"","namespaced":true,"group":"policy","version":"v1",
                "kind":"Eviction","verbs":["create"]})
    );
    assert_eq!(
        legacy_entry(&list, "pods/status"),
        &json!({"name":"pods/status","singularName":"","namespaced":true,"kind":"Pod","verbs":["get","patch","update"]})
    );
    assert_eq!(legacy_entry(&list, "pods/log")["verbs"], json!(["get"]));
    assert_eq!(
        legacy_entry(&list, "serviceaccounts/token")["group"],
        "authentication.k8s.io"
    );
    assert_eq!(
        legacy_entry(&list, "replicationcontrollers/scale")["group"],
        "autoscaling"
    );
    assert_eq!(legacy_entry(&list, "nodes/proxy")["namespaced"], false);
    assert_eq!(legacy_entry(&list, "nodes/proxy")["kind"], "NodeProxyOptions");
    let ns = legacy_entry(&list, "namespaces");
    assert_eq!(
        ns["verbs"],
        json!(["create", "delete", "get", "list", "patch", "update", "watch"])
    );
    assert!(ns.get("categories").is_none());
    // Sorted by name, subresources right after their parent ("pods/..." < "podtemplates").
    let names: Vec<String> = list["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap().to_string())
        .collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted);
    let pods = names.iter().position(|n| n == "pods").unwrap();
    assert_eq!(names[pods + 10], "pods/status");
    assert_eq!(names[pods + 11], "podtemplates");
    for e in list["resources"].as_array().unwrap() {
        let sub = e["name"].as_str().unwrap().contains('/');
        assert_eq!(e["singularName"] == "", sub, "{e}");
        assert!(e.get("storageVersionHash").is_none());
    }
}

#[test]
fn discovery_legacy_resource_list_unknown_is_none() {
    let rs = builtins();
    assert_eq!(api_resource_list(&rs, "apps", "v1beta1"), None);
    assert_eq!(api_resource_list(&rs, "extensions", "v1beta1"), None);
    assert!(api_resource_list(&rs, "autoscaling", "v1").is_some());
    let authz = api_resource_list(&rs, "authorization.k8s.io", "v1").unwrap();
    assert_eq!(
        legacy_entry(&authz, "localsubjectaccessreviews")["namespaced"],
        true
    );
    assert_eq!(
        legacy_entry(&authz, "selfsubjectaccessreviews")["verbs"],
        json!(["create"])
    );
}

#[test]
fn discovery_custom_resources_can_be_appended() {
    let mut rs = builtins();
    let widget = |version: &str| DiscoveryResource {
        group: "example.com".into(),
        version: version.into(),
        kind: "Widget".into(),
        plural: "widgets".into(),
        singular: "widget".into(),
        namespaced: true,
        verbs: ["watch", "get", "list"].map(String::from).to_vec(),
        short_names: vec!["wd".into()],
        categories: vec!["all".into()],
        subresources: vec![DiscoverySubresource {
            name: "status".into(),
            group: "example.com".into(),
            version: version.into(),
            kind: "Widget".into(),
            verbs: ["get", "patch", "update"].map(String::from).to_vec(),
        }],
    };
    rs.push(widget("v2"));
    rs.push(widget("v1"));
    let doc = aggregated_apis(&rs, AggregatedVersion::V2);
    let last = doc["items"].as_array().unwrap().last().unwrap();
    assert_eq!(last["metadata"]["name"], "example.com");
    let w = resource(version(last, "v2"), "widgets");
    assert_eq!(
        w["verbs"],
        json!(["get", "list", "watch"]),
        "verbs are sorted like upstream"
    );
    assert_eq!(
        w["responseKind"],
        json!({"group": "example.com", "version": "v2", "kind": "Widget"})
    );
    assert_eq!(last["versions"][0]["version"], "v2");
    let group = api_group(&rs, "example.com").unwrap();
    assert_eq!(group["preferredVersion"]["groupVersion"], "example.com/v2");
    let list = api_resource_list(&rs, "example.com", "v1").unwrap();
    assert_eq!(list["groupVersion"], "example.com/v1");
    assert!(legacy_entry(&list, "widgets/status").get("group").is_none());
    assert_eq!(rs[0].group_version(), "v1");
}

#[test]
fn discovery_negotiate_kubectl_accept_headers() {
    assert_eq!(
        negotiate(Some(KUBECTL_1_27_ACCEPT)),
        DiscoveryFormat::AggregatedV2Beta1
    );
    assert_eq!(
        negotiate(Some(KUBECTL_1_33_ACCEPT)),
        DiscoveryFormat::AggregatedV2
    );
    assert_eq!(
        DiscoveryFormat::AggregatedV2.content_type(),
        "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
    );
    assert_eq!(
        DiscoveryFormat::AggregatedV2Beta1.content_type(),
        "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList"
    );
    assert_eq!(DiscoveryFormat::Legacy.content_type(), "application/json");
    assert_eq!(
        DiscoveryFormat::AggregatedV2.aggregated(),
        Some(AggregatedVersion::V2)
    );
    assert_eq!(
        DiscoveryFormat::AggregatedV2Beta1.aggregated(),
        Some(AggregatedVersion::V2Beta1)
    );
    assert_eq!(DiscoveryFormat::Legacy.aggregated(), None);
}

#[test]
fn discovery_negotiate_plain_and_fallbacks() {
    for accept in [
        None,
        Some(""),
        Some("application/json"),
        Some("*/*"),
        Some("application/*"),
        Some("application/json, */*"),
        Some("application/json;charset=utf-8"),
        Some("text/html"),
        Some("application/vnd.kubernetes.protobuf"),
        Some("garbage;;;,,"),
        // An unknown conversion is skipped, then plain JSON is taken.
        Some("application/json;as=Table;v=v1;g=meta.k8s.io,application/json"),
        // kubectl's legacy-only client.
        Some("application/json, */*;q=0.8"),
    ] {
        assert_eq!(negotiate(accept), DiscoveryFormat::Legacy, "{accept:?}");
    }
}

#[test]
fn discovery_negotiate_parameters_spaces_and_q_values() {
    use DiscoveryFormat::*;
    let cases = [
        // Parameter order and spaces do not matter; extra parameters are tolerated.
        (
            "application/json;as=APIGroupDiscoveryList;v=v2;g=apidiscovery.k8s.io",
            AggregatedV2,
        ),
        (
            "application/json; g=apidiscovery.k8s.io; v=v2; as=APIGroupDiscoveryList",
            AggregatedV2,
        ),
        (
            "Application/JSON;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList;pretty=1",
            AggregatedV2,
        ),
        (
            "application/json;g=\"apidiscovery.k8s.io\";v=\"v2\";as=\"APIGroupDiscoveryList\"",
            AggregatedV2,
        ),
        (
            "*/*;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList",
            AggregatedV2,
        ),
        // An unserved version or a partial conversion is skipped.
        (
            "application/json;g=apidiscovery.k8s.io;v=v3;as=APIGroupDiscoveryList,application/json",
            Legacy,
        ),
        ("application/json;v=v2;as=APIGroupDiscoveryList", Legacy),
        // Protobuf is not served: the next range is taken.
        (
            "application/vnd.kubernetes.protobuf;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,\
             application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList",
            AggregatedV2Beta1,
        ),
        // q-values outrank header order.
        (
            "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList;q=0.5,application/json",
            Legacy,
        ),
        (
            "application/json;q=0.5,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList",
            AggregatedV2Beta1,
        ),
        (
            "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList;q=0.9,\
             application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList",
            AggregatedV2,
        ),
        // q=0 means "not acceptable".
        (
            "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList;q=0,application/json",
            Legacy,
        ),
        // Equal q: the more specific range first, then header order.
        (
            "*/*,application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList",
            AggregatedV2,
        ),
        (
            "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,\
             application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList",
            AggregatedV2,
        ),
    ];
    for (accept, want) in cases {
        assert_eq!(negotiate(Some(accept)), want, "{accept}");
    }
}
