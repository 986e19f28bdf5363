use std::collections::{BTreeSet, HashSet};

use super::*;

const KNOWN_VERBS: &[&str] = &[
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];

fn names(rs: &[&ResourceInfo]) -> Vec<String> {
    rs.iter()
        .map(|r| format!("{}/{}/{}", r.group, r.version, r.plural))
        .collect()
}

#[test]
fn resources_have_no_duplicates() {
    let mut plurals = HashSet::new();
    let mut kinds = HashSet::new();
    for r in RESOURCES {
        assert!(
            plurals.insert((r.group, r.version, r.plural)),
            "duplicate {}/{}",
            r.api_version(),
            r.plural
        );
        assert!(
            kinds.insert((r.group, r.version, r.kind)),
            "duplicate {}/{}",
            r.api_version(),
            r.kind
        );
        let subs: HashSet<_> = r.subresources.iter().map(|s| s.name).collect();
        assert_eq!(
            subs.len(),
            r.subresources.len(),
            "duplicate subresource in {}",
            r.plural
        );
    }
}

#[test]
fn resources_names_are_well_formed() {
    for r in RESOURCES {
        assert!(!r.version.is_empty() && !r.kind.is_empty(), "{}", r.plural);
        for name in [r.plural, r.singular]
            .into_iter()
            .chain(r.short_names.iter().copied())
        {
            assert!(
                !name.is_empty() && name.bytes().all(|b| b.is_ascii_lowercase()),
                "{name:?}"
            );
        }
        // Upstream's default singular is the lower-cased kind; every built-in keeps it.
        assert_eq!(r.singular, r.kind.to_ascii_lowercase(), "{}", r.plural);
    }
}

#[test]
fn resources_verbs_are_known_and_sorted_like_upstream() {
    for r in RESOURCES {
        let lists =
            std::iter::once((r.plural, r.verbs)).chain(r.subresources.iter().map(|s| (s.name, s.verbs)));
        for (name, verbs) in lists {
            assert!(!verbs.is_empty(), "{}: {name} has no verbs", r.plural);
            assert!(
                verbs.iter().all(|v| KNOWN_VERBS.contains(v)),
                "{}: {name} {verbs:?}",
                r.plural
            );
            assert!(
                verbs.windows(2).all(|w| w[0] < w[1]),
                "{}: {name} {verbs:?} not sorted",
                r.plural
            );
        }
    }
    assert_eq!(find("", "v1", "namespaces").unwrap().verbs, NAMESPACE_VERBS);
    assert!(!find("", "v1", "namespaces").unwrap().has_verb("deletecollection"));
    assert!(find("", "v1", "services").unwrap().has_verb("deletecollection"));
}

#[test]
fn resources_subresources_carry_group_version_kind() {
    for r in RESOURCES {
        for s in r.subresources {
            assert!(
                !s.version.is_empty() && !s.kind.is_empty(),
                "{}/{}",
                r.plural,
                s.name
            );
            let same_gv = s.group == r.group && s.version == r.version;
            if !same_gv {
                // Cross-group bodies must be one of the upstream ones and name their group.
                let expected = match (s.name, s.kind) {
                    ("scale", "Scale") => ("autoscaling", "v1"),
                    ("eviction", "Eviction") => ("policy", "v1"),
                    ("token", "TokenRequest") => ("authentication.k8s.io", "v1"),
                    other => panic!("{}/{}: unexpected cross-group body {other:?}", r.plural, s.name),
                };
                assert_eq!((s.group, s.version), expected, "{}/{}", r.plural, s.name);
            }
            if s.name == "status" {
                assert_eq!(
                    (s.group, s.version, s.kind, s.verbs),
                    (r.group, r.version, r.kind, GET_PATCH_UPDATE)
                );
            }
        }
    }
    let pods = find("", "v1", "pods").unwrap();
    let sub = |n| pods.subresource(n).unwrap();
    assert_eq!(sub("eviction").api_version(), "policy/v1");
    assert_eq!((sub("log").kind, sub("log").verbs), ("Pod", &["get"][..]));
    assert_eq!(
        (sub("exec").kind, sub("exec").verbs),
        ("PodExecOptions", CREATE_GET)
    );
    assert_eq!(sub("attach").kind, "PodAttachOptions");
    assert_eq!(sub("portforward").kind, "PodPortForwardOptions");
    assert_eq!(
        (sub("binding").kind, sub("binding").verbs),
        ("Binding", CREATE_ONLY)
    );
    assert_eq!(
        (sub("proxy").kind, sub("proxy").verbs),
        ("PodProxyOptions", PROXY_VERBS)
    );
    assert!(pods.subresource("resize").is_some() && pods.subresource("ephemeralcontainers").is_some());
    let token = find("", "v1", "serviceaccounts")
        .unwrap()
        .subresource("token")
        .unwrap();
    assert_eq!(
        (token.api_version().as_str(), token.kind, token.verbs),
        ("authentication.k8s.io/v1", "TokenRequest", CREATE_ONLY)
    );
    for plural in ["deployments", "replicasets", "statefulsets"] {
        assert_eq!(
            find("apps", "v1", plural).unwrap().subresource("scale"),
            Some(&SubresourceInfo::SCALE)
        );
    }
    assert_eq!(
        find("", "v1", "replicationcontrollers")
            .unwrap()
            .subresource("scale"),
        Some(&SubresourceInfo::SCALE)
    );
    assert!(
        find("apps", "v1", "daemonsets")
            .unwrap()
            .subresource("scale")
            .is_none()
    );
    let finalize = find("", "v1", "namespaces")
        .unwrap()
        .subresource("finalize")
        .unwrap();
    assert_eq!(finalize.verbs, &["update"]);
    let csr = find("certificates.k8s.io", "v1", "certificatesigningrequests").unwrap();
    assert!(csr.subresource("approval").is_some() && csr.subresource("status").is_some());
}

#[test]
fn resources_category_all_is_exactly_upstreams() {
    let all: Vec<_> = RESOURCES
        .iter()
        .filter(|r| r.categories.contains(&"all"))
        .collect();
    let got: BTreeSet<_> = names(&all).into_iter().collect();
    let want: BTreeSet<String> = [
        "/v1/pods",
        "/v1/services",
        "/v1/replicationcontrollers",
        "apps/v1/daemonsets",
        "apps/v1/deployments",
        "apps/v1/replicasets",
        "apps/v1/statefulsets",
        "autoscaling/v2/horizontalpodautoscalers",
        "autoscaling/v1/horizontalpodautoscalers",
        "batch/v1/cronjobs",
        "batch/v1/jobs",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    assert_eq!(got, want);
    let ext: Vec<_> = RESOURCES
        .iter()
        .filter(|r| r.categories.contains(&"api-extensions"))
        .collect();
    assert_eq!(
        names(&ext),
        [
            "admissionregistration.k8s.io/v1/mutatingwebhookconfigurations",
            "admissionregistration.k8s.io/v1/validatingwebhookconfigurations",
            "admissionregistration.k8s.io/v1/validatingadmissionpolicies",
            "admissionregistration.k8s.io/v1/validatingadmissionpolicybindings",
            "apiextensions.k8s.io/v1/customresourcedefinitions",
        ]
    );
    let other: Vec<_> = RESOURCES
        .iter()
        .flat_map(|r| r.categories.iter())
        .filter(|c| **c != "all" && **c != "api-extensions")
        .collect();
    assert!(other.is_empty(), "{other:?}");
}

#[test]
fn resources_short_names_match_upstream() {
    let by_short: Vec<(&str, &str)> = RESOURCES
        .iter()
        .flat_map(|r| r.short_names.iter().map(move |s| (*s, r.plural)))
        .collect();
    for (short, plural) in [
        ("ns", "namespaces"),
        ("po", "pods"),
        ("svc", "services"),
        ("ep", "endpoints"),
        ("cm", "configmaps"),
        ("sa", "serviceaccounts"),
        ("no", "nodes"),
        ("ev", "events"),
        ("pv", "persistentvolumes"),
        ("pvc", "persistentvolumeclaims"),
        ("limits", "limitranges"),
        ("quota", "resourcequotas"),
        ("rc", "replicationcontrollers"),
        ("deploy", "deployments"),
        ("rs", "replicasets"),
        ("sts", "statefulsets"),
        ("ds", "daemonsets"),
        ("hpa", "horizontalpodautoscalers"),
        ("cj", "cronjobs"),
        ("csr", "certificatesigningrequests"),
        ("ing", "ingresses"),
        ("netpol", "networkpolicies"),
        ("pdb", "poddisruptionbudgets"),
        ("sc", "storageclasses"),
        ("crd", "customresourcedefinitions"),
        ("crds", "customresourcedefinitions"),
        ("pc", "priorityclasses"),
    ] {
        assert!(by_short.contains(&(short, plural)), "{short} -> {plural}");
    }
    // 27 pairs above, plus the second `ev` (events.k8s.io) and `hpa` (autoscaling/v1).
    assert_eq!(by_short.len(), 29, "{by_short:?}");
}

#[test]
fn resources_storage_keys_follow_upstream_layout() {
    let key = |g, v, p, ns, name| find(g, v, p).unwrap().storage_key(ns, name);
    assert_eq!(key("", "v1", "pods", Some("default"), "web"), "/pods/default/web");
    assert_eq!(
        key("", "v1", "services", Some("default"), "web"),
        "/services/specs/default/web"
    );
    assert_eq!(
        key("", "v1", "endpoints", Some("default"), "web"),
        "/services/endpoints/default/web"
    );
    assert_eq!(key("", "v1", "nodes", None, "node-1"), "/minions/node-1");
    assert_eq!(
        key("", "v1", "nodes", Some("ignored"), "node-1"),
        "/minions/node-1"
    );
    assert_eq!(
        key("", "v1", "replicationcontrollers", Some("ns"), "rc1"),
        "/controllers/ns/rc1"
    );
    assert_eq!(
        key("", "v1", "namespaces", None, "kube-system"),
        "/namespaces/kube-system"
    );
    assert_eq!(
        key("networking.k8s.io", "v1", "ingresses", Some("ns"), "i"),
        "/ingress/ns/i"
    );
    assert_eq!(
        key("apps", "v1", "deployments", Some("ns"), "d"),
        "/deployments/ns/d"
    );
    assert_eq!(
        key("events.k8s.io", "v1", "events", Some("ns"), "e"),
        "/events/ns/e"
    );
    assert_eq!(
        key(
            "apiextensions.k8s.io",
            "v1",
            "customresourcedefinitions",
            None,
            "foos.example.com"
        ),
        "/apiextensions.k8s.io/customresourcedefinitions/foos.example.com"
    );
    assert_eq!(
        key(
            "certificates.k8s.io",
            "v1",
            "certificatesigningrequests",
            None,
            "csr2"
        ),
        "/certificatesigningrequests/csr2"
    );
    for v in ["v1", "v2"] {
        let hpa = find("autoscaling", v, "horizontalpodautoscalers").unwrap();
        assert_eq!(
            hpa.storage_list_prefix(Some("ns")),
            "/horizontalpodautoscalers/ns/"
        );
    }
    assert_eq!(
        find("", "v1", "pods").unwrap().storage_list_prefix(None),
        "/pods/"
    );
}

#[test]
fn resources_share_storage_only_when_upstream_does() {
    for r in RESOURCES {
        if !r.is_stored() {
            assert_eq!(
                r.verbs, CREATE_ONLY,
                "{} is never stored so must be create-only",
                r.plural
            );
            continue;
        }
        assert!(
            r.storage_prefix.starts_with('/') && !r.storage_prefix.ends_with('/'),
            "{}",
            r.storage_prefix
        );
        for o in RESOURCES.iter().filter(|o| o.is_stored() && !std::ptr::eq(*o, r)) {
            // One prefix must never be a path-prefix of another (`/services` vs `/services/specs`).
            let nested = o.storage_prefix.starts_with(&format!("{}/", r.storage_prefix));
            assert!(!nested, "{} nests inside {}", o.storage_prefix, r.storage_prefix);
            if o.storage_prefix == r.storage_prefix {
                assert_eq!(
                    (o.kind, o.plural),
                    (r.kind, r.plural),
                    "{} shared",
                    r.storage_prefix
                );
            }
        }
    }
    let unstored: Vec<_> = RESOURCES
        .iter()
        .filter(|r| !r.is_stored())
        .map(|r| r.plural)
        .collect();
    assert_eq!(
        unstored,
        [
            "selfsubjectreviews",
            "tokenreviews",
            "localsubjectaccessreviews",
            "selfsubjectaccessreviews",
            "selfsubjectrulesreviews",
            "subjectaccessreviews"
        ]
    );
}

#[test]
fn resources_field_selectors_match_upstream() {
    let fs = |g, p| find(g, "v1", p).unwrap().field_selectors;
    assert!(fs("", "pods").contains(&"spec.nodeName") && fs("", "pods").contains(&"status.phase"));
    assert_eq!(fs("", "pods").len(), 9);
    assert_eq!(fs("", "nodes"), ["spec.unschedulable"]);
    assert_eq!(fs("", "namespaces"), ["status.phase"]);
    assert_eq!(fs("", "secrets"), ["type"]);
    assert_eq!(fs("", "replicationcontrollers"), ["status.replicas"]);
    assert_eq!(fs("apps", "replicasets"), ["status.replicas"]);
    assert_eq!(fs("batch", "jobs"), ["status.successful"]);
    assert_eq!(
        fs("certificates.k8s.io", "certificatesigningrequests"),
        ["spec.signerName"]
    );
    assert!(fs("", "events").contains(&"involvedObject.uid") && fs("", "events").contains(&"source"));
    assert!(fs("events.k8s.io", "events").contains(&"regarding.name"));
    assert!(fs("", "endpoints").is_empty() && fs("", "configmaps").is_empty());
    for r in RESOURCES {
        for f in r.field_selectors {
            assert!(!f.starts_with("metadata."), "{}: {f} is implied", r.plural);
        }
    }
}

#[test]
fn resources_groups_follow_upstream_priority_order() {
    let gs = groups();
    let order: Vec<_> = gs.iter().map(|g| g.name).collect();
    assert_eq!(
        order,
        [
            "",
            "apps",
            "events.k8s.io",
            "authentication.k8s.io",
            "authorization.k8s.io",
            "autoscaling",
            "batch",
            "certificates.k8s.io",
            "networking.k8s.io",
            "policy",
            "rbac.authorization.k8s.io",
            "storage.k8s.io",
            "admissionregistration.k8s.io",
            "apiextensions.k8s.io",
            "scheduling.k8s.io",
            "coordination.k8s.io",
            "node.k8s.io",
            "discovery.k8s.io",
        ]
    );
    let autoscaling = gs.iter().find(|g| g.name == "autoscaling").unwrap();
    assert_eq!(autoscaling.versions, ["v2", "v1"]);
    assert_eq!(autoscaling.preferred_version(), "v2");
    assert!(
        gs.iter()
            .filter(|g| g.name != "autoscaling")
            .all(|g| g.versions == ["v1"])
    );
    assert_eq!(preferred_version("autoscaling"), Some("v2"));
    assert_eq!(preferred_version("apps"), Some("v1"));
    assert_eq!(preferred_version("extensions"), None);
    // Each group's resources are contiguous in the table.
    let mut seen = Vec::new();
    for r in RESOURCES {
        if seen.last() != Some(&r.group) {
            assert!(!seen.contains(&r.group), "group {} is split", r.group);
            seen.push(r.group);
        }
    }
}

#[test]
fn resources_in_lists_one_group_version() {
    let apps: Vec<_> = resources_in("apps", "v1").map(|r| r.plural).collect();
    assert_eq!(
        apps,
        [
            "deployments",
            "replicasets",
            "statefulsets",
            "daemonsets",
            "controllerrevisions"
        ]
    );
    assert_eq!(resources_in("", "v1").count(), 15);
    assert_eq!(resources_in("autoscaling", "v1").count(), 1);
    assert_eq!(resources_in("apps", "v1beta1").count(), 0);
    let authz: Vec<_> = resources_in("authorization.k8s.io", "v1")
        .map(|r| (r.plural, r.namespaced))
        .collect();
    assert!(authz.contains(&("localsubjectaccessreviews", true)));
    assert!(authz.contains(&("selfsubjectaccessreviews", false)));
}

#[test]
fn resources_find_by_name_resolves_like_kubectl() {
    let gvr = |n| find_by_name(n).map(|r| (r.group, r.version, r.plural));
    assert_eq!(gvr("po"), Some(("", "v1", "pods")));
    assert_eq!(gvr("pod"), Some(("", "v1", "pods")));
    assert_eq!(gvr("pods"), Some(("", "v1", "pods")));
    assert_eq!(gvr("Pod"), Some(("", "v1", "pods")));
    assert_eq!(gvr("deploy"), Some(("apps", "v1", "deployments")));
    assert_eq!(gvr("deployment"), Some(("apps", "v1", "deployments")));
    assert_eq!(gvr("svc"), Some(("", "v1", "services")));
    assert_eq!(gvr("ns"), Some(("", "v1", "namespaces")));
    assert_eq!(gvr("no"), Some(("", "v1", "nodes")));
    assert_eq!(gvr("ep"), Some(("", "v1", "endpoints")));
    assert_eq!(gvr("endpoints"), Some(("", "v1", "endpoints")));
    assert_eq!(gvr("ev"), Some(("", "v1", "events")));
    assert_eq!(gvr("events"), Some(("", "v1", "events")));
    assert_eq!(
        gvr("hpa"),
        Some(("autoscaling", "v2", "horizontalpodautoscalers"))
    );
    assert_eq!(
        gvr("crd"),
        Some(("apiextensions.k8s.io", "v1", "customresourcedefinitions"))
    );
    assert_eq!(
        gvr("crds"),
        Some(("apiextensions.k8s.io", "v1", "customresourcedefinitions"))
    );
    assert_eq!(
        gvr("netpol"),
        Some(("networking.k8s.io", "v1", "networkpolicies"))
    );
    assert_eq!(gvr("sts"), Some(("apps", "v1", "statefulsets")));
    assert_eq!(gvr("cj"), Some(("batch", "v1", "cronjobs")));
    assert_eq!(gvr("jobs"), Some(("batch", "v1", "jobs")));
    assert_eq!(gvr("foos"), None);
    assert_eq!(gvr(""), None);
    assert!(find_by_name("quota").unwrap().answers_to("resourcequotas"));
}

#[test]
fn resources_find_and_find_kind() {
    assert_eq!(find("", "v1", "configmaps").unwrap().kind, "ConfigMap");
    assert_eq!(
        find_kind("apps", "v1", "Deployment").unwrap().plural,
        "deployments"
    );
    assert_eq!(
        find_kind("autoscaling", "v1", "HorizontalPodAutoscaler")
            .unwrap()
            .version,
        "v1"
    );
    assert!(find("apps", "v1", "pods").is_none());
    let d = find("apps", "v1", "deployments").unwrap();
    assert_eq!(
        (d.api_version(), d.list_kind()),
        ("apps/v1".to_string(), "DeploymentList".to_string())
    );
    assert_eq!(find("", "v1", "pods").unwrap().api_version(), "v1");
}
