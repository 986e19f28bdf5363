//! Bodies are built with `k8s-pb` (prost) — an encoder independent of ours — the way client-go's
//! gogo encoder writes them: every non-pointer field present, zero or not; pointers only when set.

mod encoding;
mod errors;
mod objects;
mod robustness;
mod shapes;
mod watch;

use std::collections::BTreeMap;

use k8s_pb::api::apps::v1 as apps;
use k8s_pb::api::batch::v1 as batch;
use k8s_pb::api::core::v1 as core;
use k8s_pb::apiextensions_apiserver::pkg::apis::apiextensions::v1 as apiext;
use k8s_pb::apimachinery::pkg::api::resource::Quantity;
use k8s_pb::apimachinery::pkg::apis::meta::v1 as meta;
use k8s_pb::apimachinery::pkg::runtime::{TypeMeta, Unknown};
use k8s_pb::apimachinery::pkg::util::intstr::IntOrString;
use prost::Message as _;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rudder_api::resources::RESOURCES;
use serde_json::{Value, json};

use super::messages::MESSAGES;
use super::schema::{self, REPEATED, Special, Ty};
use super::{decode, encode, timestamps, wire};

fn s(v: &str) -> Option<String> {
    Some(v.to_string())
}

/// The `k8s\0` + `runtime.Unknown` envelope as upstream writes it.
fn body(api_version: &str, kind: &str, obj: &impl prost::Message) -> Vec<u8> {
    envelope(api_version, kind, obj.encode_to_vec())
}

fn envelope(api_version: &str, kind: &str, raw: Vec<u8>) -> Vec<u8> {
    let unknown = Unknown {
        type_meta: Some(TypeMeta {
            api_version: s(api_version),
            kind: s(kind),
        }),
        raw: Some(raw),
        content_encoding: s(""),
        content_type: s(""),
    };
    let mut out = b"k8s\0".to_vec();
    out.extend(unknown.encode_to_vec());
    out
}

/// `ObjectMeta` as gogo writes it: all non-pointer fields, the zero creation time included.
fn gogo_meta(name: &str, namespace: &str) -> meta::ObjectMeta {
    meta::ObjectMeta {
        name: s(name),
        generate_name: s(""),
        namespace: s(namespace),
        self_link: s(""),
        uid: s(""),
        resource_version: s(""),
        generation: Some(0),
        creation_timestamp: Some(meta::Time::default()),
        ..Default::default()
    }
}

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn quantities(pairs: &[(&str, &str)]) -> BTreeMap<String, Quantity> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), Quantity { string: s(v) }))
        .collect()
}

fn int_or_string_int(v: i32) -> IntOrString {
    IntOrString {
        r#type: Some(0),
        int_val: Some(v),
        str_val: s(""),
    }
}

fn int_or_string_str(v: &str) -> IntOrString {
    IntOrString {
        r#type: Some(1),
        int_val: Some(0),
        str_val: s(v),
    }
}

/// Decodes, checks the JSON, and checks that encoding that JSON decodes to it again.
fn assert_decodes(body: &[u8], expected: Value) {
    let got = decode(body).unwrap_or_else(|e| panic!("decode failed: {e:?}"));
    assert_eq!(got, expected, "\n got: {got:#}\nwant: {expected:#}");
    let again = encode(&got).unwrap_or_else(|e| panic!("encode failed: {e:?}"));
    // `null` behind a pointer (`renewTime: null`) is a nil pointer after the round trip.
    assert_eq!(
        without_pointer_nulls(decode(&again).expect("decode of encode")),
        without_pointer_nulls(expected)
    );
}

fn without_pointer_nulls(v: Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.into_iter()
                .filter(|(k, v)| !(v.is_null() && k != "creationTimestamp"))
                .map(|(k, v)| (k, without_pointer_nulls(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.into_iter().map(without_pointer_nulls).collect()),
        other => other,
    }
}

fn container(name: &str, image: &str) -> core::Container {
    core::Container {
        name: s(name),
        image: s(image),
        working_dir: s(""),
        resources: Some(core::ResourceRequirements::default()),
        termination_message_path: s(""),
        image_pull_policy: s(""),
        stdin: Some(false),
        stdin_once: Some(false),
        tty: Some(false),
        termination_message_policy: s(""),
        ..Default::default()
    }
}

fn pod_spec(containers: Vec<core::Container>) -> core::PodSpec {
    core::PodSpec {
        containers,
        restart_policy: s(""),
        dns_policy: s(""),
        service_account_name: s(""),
        service_account: s(""),
        node_name: s(""),
        host_network: Some(false),
        host_pid: Some(false),
        host_ipc: Some(false),
        hostname: s(""),
        subdomain: s(""),
        scheduler_name: s(""),
        ..Default::default()
    }
}

/// The code and message of a body Rudder refuses.
fn error(body: &[u8]) -> (u16, String) {
    let e = decode(body).expect_err("decode should fail");
    (e.code(), e.message().to_string())
}
