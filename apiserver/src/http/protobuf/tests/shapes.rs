//! Decoding the shapes that need care: inline fields, times, CRD schemas, `ExtraValue`
//! arrays, pointer zeros, packed scalars, unknown fields.

use super::*;

#[test]
fn inline_fields_merge_into_their_parent() {
    let mut c = container("c", "busybox");
    c.env = vec![core::EnvVar {
        name: s("PASSWORD"),
        value: s(""),
        value_from: Some(core::EnvVarSource {
            secret_key_ref: Some(core::SecretKeySelector {
                local_object_reference: Some(core::LocalObjectReference { name: s("s") }),
                key: s("p"),
                optional: None,
            }),
            ..Default::default()
        }),
    }];
    let mut spec = pod_spec(vec![c]);
    spec.volumes = vec![core::Volume {
        name: s("config"),
        volume_source: Some(core::VolumeSource {
            config_map: Some(core::ConfigMapVolumeSource {
                local_object_reference: Some(core::LocalObjectReference { name: s("c") }),
                default_mode: Some(420),
                ..Default::default()
            }),
            ..Default::default()
        }),
    }];
    let pod = core::Pod {
        metadata: Some(gogo_meta("p", "x")),
        spec: Some(spec),
        status: None,
    };
    assert_decodes(
        &body("v1", "Pod", &pod),
        json!({
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "p", "namespace": "x", "creationTimestamp": null},
            "spec": {
                "volumes": [{"name": "config", "configMap": {"name": "c", "defaultMode": 420}}],
                "containers": [{
                    "name": "c",
                    "image": "busybox",
                    "env": [{"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "s", "key": "p"}}}],
                    "resources": {},
                }],
            },
        }),
    );
}

#[test]
fn times() {
    let mut metadata = gogo_meta("l", "x");
    metadata.creation_timestamp = Some(meta::Time {
        seconds: Some(1_700_000_000),
        nanos: Some(123),
    });
    metadata.deletion_timestamp = Some(meta::Time {
        seconds: Some(0),
        nanos: None,
    });
    let lease = k8s_pb::api::coordination::v1::Lease {
        metadata: Some(metadata),
        spec: Some(k8s_pb::api::coordination::v1::LeaseSpec {
            holder_identity: s("me"),
            lease_duration_seconds: Some(15),
            acquire_time: Some(meta::MicroTime {
                seconds: Some(1_700_000_000),
                nanos: Some(123_456_789),
            }),
            renew_time: Some(meta::MicroTime::default()),
            ..Default::default()
        }),
    };
    assert_decodes(
        &body("coordination.k8s.io/v1", "Lease", &lease),
        json!({
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {
                "name": "l",
                "namespace": "x",
                // Time keeps whole seconds, as upstream's protobuf decoding does.
                "creationTimestamp": "2023-11-14T22:13:20Z",
                "deletionTimestamp": "1970-01-01T00:00:00Z",
            },
            "spec": {
                "holderIdentity": "me",
                "leaseDurationSeconds": 15,
                "acquireTime": "2023-11-14T22:13:20.123456Z",
                "renewTime": null,
            },
        }),
    );
}

#[test]
fn custom_resource_definition_schemas() {
    let string_prop = apiext::JsonSchemaProps {
        r#type: s("string"),
        default: Some(apiext::Json {
            raw: Some(br#""hello""#.to_vec()),
        }),
        ..Default::default()
    };
    let schema = apiext::JsonSchemaProps {
        r#type: s("object"),
        properties: [
            ("greeting".to_string(), string_prop.clone()),
            (
                "list".to_string(),
                apiext::JsonSchemaProps {
                    r#type: s("array"),
                    items: Some(Box::new(apiext::JsonSchemaPropsOrArray {
                        schema: Some(Box::new(string_prop.clone())),
                        j_son_schemas: Vec::new(),
                    })),
                    x_kubernetes_list_type: s("set"),
                    ..Default::default()
                },
            ),
        ]
        .into(),
        additional_properties: Some(Box::new(apiext::JsonSchemaPropsOrBool {
            allows: Some(false),
            schema: None,
        })),
        x_kubernetes_preserve_unknown_fields: Some(true),
        ..Default::default()
    };
    let crd = apiext::CustomResourceDefinition {
        metadata: Some(gogo_meta("crontabs.stable.example.com", "")),
        spec: Some(apiext::CustomResourceDefinitionSpec {
            group: s("stable.example.com"),
            names: Some(apiext::CustomResourceDefinitionNames {
                plural: s("crontabs"),
                kind: s("CronTab"),
                ..Default::default()
            }),
            scope: s("Namespaced"),
            versions: vec![apiext::CustomResourceDefinitionVersion {
                name: s("v1"),
                served: Some(true),
                storage: Some(true),
                schema: Some(apiext::CustomResourceValidation {
                    open_apiv3_schema: Some(schema),
                }),
                ..Default::default()
            }],
            ..Default::default()
        }),
        status: None,
    };
    assert_decodes(
        &body("apiextensions.k8s.io/v1", "CustomResourceDefinition", &crd),
        json!({
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "metadata": {"name": "crontabs.stable.example.com", "creationTimestamp": null},
            "spec": {
                "group": "stable.example.com",
                "names": {"plural": "crontabs", "kind": "CronTab"},
                "scope": "Namespaced",
                "versions": [{
                    "name": "v1",
                    "served": true,
                    "storage": true,
                    "schema": {"openAPIV3Schema": {
                        "type": "object",
                        "properties": {
                            "greeting": {"type": "string", "default": "hello"},
                            "list": {
                                "type": "array",
                                "items": {"type": "string", "default": "hello"},
                                "x-kubernetes-list-type": "set",
                            },
                        },
                        "additionalProperties": false,
                        "x-kubernetes-preserve-unknown-fields": true,
                    }},
                }],
            },
        }),
    );
}

#[test]
fn access_review_extra_values_are_arrays() {
    use k8s_pb::api::authorization::v1 as authz;
    let review = authz::SubjectAccessReview {
        metadata: Some(gogo_meta("", "")),
        spec: Some(authz::SubjectAccessReviewSpec {
            resource_attributes: Some(authz::ResourceAttributes {
                namespace: s("x"),
                verb: s("get"),
                group: s(""),
                version: s(""),
                resource: s("pods"),
                subresource: s(""),
                name: s(""),
                ..Default::default()
            }),
            user: s("alice"),
            groups: vec!["devs".into()],
            extra: [(
                "scopes".to_string(),
                authz::ExtraValue {
                    items: vec!["a".into(), "b".into()],
                },
            )]
            .into(),
            uid: s(""),
            ..Default::default()
        }),
        status: Some(authz::SubjectAccessReviewStatus {
            allowed: Some(false),
            denied: Some(false),
            reason: s(""),
            evaluation_error: s(""),
        }),
    };
    assert_decodes(
        &body("authorization.k8s.io/v1", "SubjectAccessReview", &review),
        json!({
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SubjectAccessReview",
            "metadata": {"creationTimestamp": null},
            "spec": {
                "resourceAttributes": {"namespace": "x", "verb": "get", "resource": "pods"},
                "user": "alice",
                "groups": ["devs"],
                "extra": {"scopes": ["a", "b"]},
            },
            // `allowed` has no omitempty upstream.
            "status": {"allowed": false},
        }),
    );
}

#[test]
fn delete_options_keep_zero_grace_period() {
    let opts = meta::DeleteOptions {
        grace_period_seconds: Some(0),
        propagation_policy: s("Background"),
        dry_run: vec!["All".into()],
        ..Default::default()
    };
    assert_decodes(
        &body("v1", "DeleteOptions", &opts),
        json!({
            "apiVersion": "v1",
            "kind": "DeleteOptions",
            "gracePeriodSeconds": 0,
            "propagationPolicy": "Background",
            "dryRun": ["All"],
        }),
    );
}

#[test]
fn packed_and_unpacked_repeated_scalars() {
    // PodSecurityContext.supplementalGroups = 4 (int64), written packed and unpacked.
    let mut ctx = Vec::new();
    wire::put_len(&mut ctx, 4, &[1, 2]);
    wire::put_varint_field(&mut ctx, 4, 3);
    let mut spec = Vec::new();
    wire::put_len(&mut spec, 14, &ctx);
    let mut pod = Vec::new();
    wire::put_len(&mut pod, 2, &spec);
    assert_eq!(
        decode(&envelope("v1", "Pod", pod)).unwrap(),
        json!({"apiVersion": "v1", "kind": "Pod", "spec": {"securityContext": {"supplementalGroups": [1, 2, 3]}}})
    );
}

#[test]
fn unknown_fields_are_skipped() {
    let mut raw = core::ConfigMap {
        metadata: Some(gogo_meta("c", "x")),
        ..Default::default()
    }
    .encode_to_vec();
    wire::put_len(&mut raw, 99, b"from a newer client");
    wire::put_varint_field(&mut raw, 100, 7);
    assert_eq!(
        decode(&envelope("v1", "ConfigMap", raw)).unwrap(),
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "x", "creationTimestamp": null}})
    );
}
