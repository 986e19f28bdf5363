use serde_json::json;

use super::*;
use crate::validation::{FieldError, FieldPath};

#[test]
fn not_found_exact_json_and_order() {
    let e = ApiError::not_found("apps", "deployments", "nginx");
    assert_eq!(e.code(), 404);
    assert_eq!(e.to_string(), "deployments.apps \"nginx\" not found");
    assert_eq!(
        String::from_utf8(e.to_status_bytes()).unwrap(),
        r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"deployments.apps \"nginx\" not found","reason":"NotFound","details":{"name":"nginx","group":"apps","kind":"deployments"},"code":404}"#
    );
    let core = ApiError::not_found("", "pods", "x");
    assert_eq!(
        core.to_status(),
        json!({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"pods \"x\" not found",
               "reason":"NotFound","details":{"name":"x","kind":"pods"},"code":404})
    );
    assert!(core.is_not_found());
    assert_eq!(
        ApiError::namespace_not_found("x").to_status()["message"],
        "namespaces \"x\" not found"
    );
}

#[test]
fn already_exists_and_conflict() {
    let e = ApiError::already_exists("", "configmaps", "cfg");
    assert_eq!(
        e.to_status(),
        json!({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"configmaps \"cfg\" already exists",
               "reason":"AlreadyExists","details":{"name":"cfg","kind":"configmaps"},"code":409})
    );
    let c = ApiError::conflict("", "pods", "x");
    assert_eq!(
        c.message(),
        "Operation cannot be fulfilled on pods \"x\": the object has been modified; please apply your changes to the latest version and try again"
    );
    assert_eq!(c.to_status()["reason"], "Conflict");
    assert!(c.is_conflict() && !c.is_already_exists());
    let g = ApiError::generate_name_conflict("", "pods", "web-abcde", 1);
    assert_eq!(g.to_status()["details"]["retryAfterSeconds"], 1);
    assert_eq!(
        g.message(),
        "pods \"web-abcde\" already exists, the server was not able to generate a unique name for the object"
    );
}

#[test]
fn invalid_one_and_many() {
    let name = FieldPath::new("spec").child("containers").index(0).child("name");
    let one = ApiError::invalid("", "Pod", "x", &[FieldError::required(&name, "")]);
    assert_eq!(
        one.to_status(),
        json!({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",
               "message":"Pod \"x\" is invalid: spec.containers[0].name: Required value","reason":"Invalid",
               "details":{"name":"x","kind":"Pod","causes":[
                   {"reason":"FieldValueRequired","message":"Required value","field":"spec.containers[0].name"}]},
               "code":422})
    );
    let replicas = FieldPath::new("spec").child("replicas");
    let errs = [
        FieldError::invalid(&replicas, -1i64, "must be greater than or equal to 0"),
        FieldError::not_supported(
            &FieldPath::new("spec").child("strategy").child("type"),
            "X",
            &["Recreate", "RollingUpdate"],
        ),
    ];
    let many = ApiError::invalid("apps", "Deployment", "web", &errs);
    assert_eq!(
        many.message(),
        "Deployment.apps \"web\" is invalid: [spec.replicas: Invalid value: -1: must be greater than or equal to 0, spec.strategy.type: Unsupported value: \"X\": supported values: \"Recreate\", \"RollingUpdate\"]"
    );
    let st = many.to_status();
    assert_eq!(st["details"]["group"], "apps");
    assert_eq!(st["details"]["kind"], "Deployment");
    assert_eq!(st["details"]["causes"][1]["reason"], "FieldValueNotSupported");
    assert_eq!(st["details"]["causes"][1]["field"], "spec.strategy.type");
    let none = ApiError::invalid("", "Pod", "x", &[]);
    assert_eq!(none.message(), "Pod \"x\" is invalid");
    assert_eq!(none.to_status()["details"], json!({"name":"x","kind":"Pod"}));
}

#[test]
fn simple_reasons() {
    let cases: Vec<(ApiError, u16, &str, &str)> = vec![
        (ApiError::bad_request("nope"), 400, "BadRequest", "nope"),
        (
            ApiError::field_label_not_supported("spec.foo"),
            400,
            "BadRequest",
            "field label not supported: spec.foo",
        ),
        (
            ApiError::unauthorized("Unauthorized"),
            401,
            "Unauthorized",
            "Unauthorized",
        ),
        (ApiError::unauthorized(""), 401, "Unauthorized", "not authorized"),
        (
            ApiError::not_acceptable(&["application/json", "application/yaml"]),
            406,
            "NotAcceptable",
            "only the following media types are accepted: application/json, application/yaml",
        ),
        (
            ApiError::not_acceptable_conversion("Table", &["application/json"]),
            406,
            "NotAcceptable",
            "only the following media types are accepted when converting to Table: application/json",
        ),
        (
            ApiError::unsupported_media_type(&["application/json"]),
            415,
            "UnsupportedMediaType",
            "the body of the request was in an unknown format - accepted media types include: application/json",
        ),
        (
            ApiError::request_entity_too_large("limit is 3145728"),
            413,
            "RequestEntityTooLarge",
            "Request entity too large: limit is 3145728",
        ),
        (ApiError::gone("bye"), 410, "Gone", "bye"),
        (
            ApiError::too_old_resource_version(5, 9),
            410,
            "Expired",
            "too old resource version: 5 (9)",
        ),
        (
            ApiError::watch_expired(),
            410,
            "Expired",
            "The resourceVersion for the provided watch is too old.",
        ),
        (
            ApiError::service_unavailable("later"),
            503,
            "ServiceUnavailable",
            "later",
        ),
        (
            ApiError::method_not_supported("", "pods", "watch"),
            405,
            "MethodNotAllowed",
            "watch is not supported on resources of kind \"pods\"",
        ),
    ];
    for (e, code, reason, msg) in cases {
        let st = e.to_status();
        assert_eq!(
            (e.code(), st["code"].as_u64().unwrap()),
            (code, u64::from(code)),
            "{msg}"
        );
        assert_eq!(st["reason"], reason);
        assert_eq!(st["message"], msg);
        assert_eq!(st["status"], "Failure");
    }
    assert_eq!(ApiError::bad_request("x").to_status().get("details"), None);
    assert_eq!(
        ApiError::method_not_supported("", "pods", "watch").to_status()["details"],
        json!({"kind":"pods"})
    );
}

#[test]
fn forbidden_variants() {
    let attrs = AuthzAttributes {
        user: "bob".into(),
        verb: "list".into(),
        resource_request: true,
        resource: "pods".into(),
        namespace: "default".into(),
        ..AuthzAttributes::default()
    };
    let e = ApiError::forbidden_request(&attrs, "");
    assert_eq!(
        e.to_status(),
        json!({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",
               "message":"pods is forbidden: User \"bob\" cannot list resource \"pods\" in API group \"\" in the namespace \"default\"",
               "reason":"Forbidden","details":{"kind":"pods"},"code":403})
    );
    let cluster = AuthzAttributes {
        user: "bob".into(),
        verb: "get".into(),
        resource_request: true,
        api_group: "apps".into(),
        resource: "deployments".into(),
        subresource: "scale".into(),
        name: "web".into(),
        ..AuthzAttributes::default()
    };
    assert_eq!(
        ApiError::forbidden_request(&cluster, "no RBAC policy matched").message(),
        "deployments.apps \"web\" is forbidden: User \"bob\" cannot get resource \"deployments/scale\" in API group \"apps\" at the cluster scope: no RBAC policy matched"
    );
    let path = AuthzAttributes {
        user: "<x>".into(),
        verb: "get".into(),
        path: "/healthz".into(),
        ..AuthzAttributes::default()
    };
    assert_eq!(
        ApiError::forbidden_request(&path, "").message(),
        "forbidden: User \"&lt;x&gt;\" cannot get path \"/healthz\""
    );
    let t = ApiError::namespace_terminating("", "pods", "x", "ns1");
    assert_eq!(
        t.to_status(),
        json!({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",
               "message":"pods \"x\" is forbidden: unable to create new content in namespace ns1 because it is being terminated",
               "reason":"Forbidden","details":{"name":"x","kind":"pods","causes":[
                   {"reason":"NamespaceTerminating","message":"namespace ns1 is being terminated","field":"metadata.namespace"}]},
               "code":403})
    );
    assert!(t.is_forbidden() && t.has_cause("NamespaceTerminating"));
}

#[test]
fn server_side_failures() {
    assert_eq!(
        ApiError::internal("boom").to_status(),
        json!({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Internal error occurred: boom",
               "reason":"InternalError","details":{"causes":[{"message":"boom"}]},"code":500})
    );
    assert_eq!(
        ApiError::timeout("request did not complete within 60s", 0).to_status(),
        json!({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",
               "message":"Timeout: request did not complete within 60s","reason":"Timeout","details":{},"code":504})
    );
    let big = ApiError::too_large_resource_version(100, 42, 1);
    assert_eq!(
        big.to_status(),
        json!({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",
               "message":"Timeout: Too large resource version: 100, current: 42","reason":"Timeout",
               "details":{"causes":[{"reason":"ResourceVersionTooLarge","message":"Too large resource version"}],"retryAfterSeconds":1},
               "code":504})
    );
    assert_eq!(big.retry_after_seconds(), Some(1));
    let st = ApiError::server_timeout("", "pods", "create", 2).to_status();
    assert_eq!(
        st["message"],
        "The create operation against pods could not be completed at this time, please try again."
    );
    assert_eq!(
        (st["code"].as_u64(), st["reason"].as_str()),
        (Some(500), Some("ServerTimeout"))
    );
    assert_eq!(
        st["details"],
        json!({"name":"create","kind":"pods","retryAfterSeconds":2})
    );
    let tm = ApiError::too_many_requests(
        "Cannot evict pod as it would violate the pod's disruption budget.",
        10,
    );
    assert_eq!(tm.code(), 429);
    assert_eq!(tm.to_status()["details"], json!({"retryAfterSeconds":10}));
}

#[test]
fn continue_token_in_metadata() {
    let e = ApiError::continue_inconsistent("tok");
    let st = e.to_status();
    assert_eq!(st["metadata"], json!({"continue":"tok"}));
    assert!(
        st["message"]
            .as_str()
            .unwrap()
            .starts_with("The provided continue parameter is too old")
    );
    assert!(e.is_resource_expired());
}

#[test]
fn round_trip_and_quoting() {
    let e = ApiError::not_found("", "pods", "we\"ird\n");
    assert_eq!(e.message(), "pods \"we\\\"ird\\n\" not found");
    let back = ApiError::from_status(&e.to_status()).unwrap();
    assert_eq!(back, e);
    assert_eq!(ApiError::from_status(&json!({"kind": "Pod"})), None);
    assert_eq!(ApiError::from_status(&json!("garbage")), None);
    let odd = ApiError::from_status(&json!({"kind":"Status","reason":"Weird","code":404})).unwrap();
    assert_eq!(odd.reason(), StatusReason::Unknown);
    assert!(odd.is_not_found());
    assert_eq!(
        ApiError::from_status(&json!({"kind":"Status","code":-5}))
            .unwrap()
            .code(),
        500
    );
}
