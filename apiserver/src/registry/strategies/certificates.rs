//! CertificateSigningRequests (upstream `pkg/registry/certificates/certificates/strategy.go` and
//! `pkg/apis/certificates/validation`):
//!
//! - create: the status is dropped and `spec.username/uid/groups/extra` are set from the
//!   requesting user (never from the body: the approvers trust them);
//! - main resource updates change neither spec nor status;
//! - `/status` sets `status.certificate` (once, only on an approved request) and other
//!   conditions, never Approved or Denied;
//! - `/approval` changes only `status.conditions` (the generic write path copies the rest from
//!   the stored object); Approved and Denied exclude each other and are never removed.

use base64::Engine;
use rudder_api::validation::{FieldError, FieldPath};
use serde_json::{Value, json};

use crate::authn::UserInfo;
use crate::registry::strategy::{Strategy, WriteKind};

#[derive(Debug)]
pub(crate) struct Csrs;

/// Upstream `certificates.KeyUsage` values.
const USAGES: &[&str] = &[
    "signing",
    "digital signature",
    "content commitment",
    "key encipherment",
    "key agreement",
    "data encipherment",
    "cert sign",
    "crl sign",
    "encipher only",
    "decipher only",
    "any",
    "server auth",
    "client auth",
    "code signing",
    "email protection",
    "s/mime",
    "ipsec end system",
    "ipsec tunnel",
    "ipsec user",
    "timestamping",
    "ocsp signing",
    "microsoft sgc",
    "netscape sgc",
];

fn conditions(obj: &Value) -> Vec<Value> {
    obj.pointer("/status/conditions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

fn of_type<'a>(conditions: &'a [Value], kind: &str) -> Vec<&'a Value> {
    conditions
        .iter()
        .filter(|c| c.get("type").and_then(Value::as_str) == Some(kind))
        .collect()
}

/// The PEM blocks of a base64 (JSON `[]byte`) field, as (label, DER).
fn pem_blocks(b64: &str) -> Option<Vec<(String, Vec<u8>)>> {
    let bytes = base64::engine::general_purpose::STANDARD.decode(b64).ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let mut blocks = Vec::new();
    let mut rest = text.as_str();
    while let Some(start) = rest.find("-----BEGIN ") {
        let after = &rest[start + 11..];
        let label_end = after.find("-----")?;
        let label = &after[..label_end];
        let body_start = &after[label_end + 5..];
        let end_marker = format!("-----END {label}-----");
        let body_end = body_start.find(&end_marker)?;
        let body: String = body_start[..body_end].split_whitespace().collect();
        let der = base64::engine::general_purpose::STANDARD.decode(body).ok()?;
        blocks.push((label.to_string(), der));
        rest = &body_start[body_end + end_marker.len()..];
    }
    Some(blocks)
}

fn validate_request(obj: &Value, errors: &mut Vec<FieldError>) {
    let spec = FieldPath::new("spec");
    match obj.pointer("/spec/request").and_then(Value::as_str) {
        None | Some("") => errors.push(FieldError::required(&spec.child("request"), "")),
        Some(request) => {
            let parsed = pem_blocks(request).and_then(|blocks| {
                let (label, der) = blocks.into_iter().next()?;
                (label == "CERTIFICATE REQUEST").then_some(der)
            });
            let valid = parsed.is_some_and(|der| {
                use x509_parser::prelude::FromDer;
                x509_parser::certification_request::X509CertificationRequest::from_der(&der).is_ok()
            });
            if !valid {
                errors.push(FieldError::invalid(
                    &spec.child("request"),
                    "<request>",
                    "PEM block type must be CERTIFICATE REQUEST",
                ));
            }
        }
    }
    if obj
        .pointer("/spec/signerName")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .is_empty()
    {
        errors.push(FieldError::required(&spec.child("signerName"), ""));
    }
    let usages = obj.pointer("/spec/usages").and_then(Value::as_array);
    match usages {
        None => errors.push(FieldError::required(&spec.child("usages"), "")),
        Some(list) if list.is_empty() => errors.push(FieldError::required(&spec.child("usages"), "")),
        Some(list) => {
            for (i, usage) in list.iter().enumerate() {
                let u = usage.as_str().unwrap_or_default();
                if !USAGES.contains(&u) {
                    errors.push(FieldError::not_supported(
                        &spec.child("usages").index(i),
                        u,
                        USAGES,
                    ));
                }
            }
        }
    }
    if let Some(seconds) = obj.pointer("/spec/expirationSeconds").and_then(Value::as_i64)
        && seconds < 600
    {
        errors.push(FieldError::invalid(
            &spec.child("expirationSeconds"),
            seconds,
            "may not specify a duration less than 600 seconds (10 minutes)",
        ));
    }
}

fn validate_conditions(obj: &Value, errors: &mut Vec<FieldError>) {
    let path = FieldPath::new("status").child("conditions");
    let list = conditions(obj);
    for (i, c) in list.iter().enumerate() {
        let kind = c.get("type").and_then(Value::as_str).unwrap_or_default();
        let status = c.get("status").and_then(Value::as_str).unwrap_or_default();
        if kind.is_empty() {
            errors.push(FieldError::required(&path.index(i).child("type"), ""));
        }
        let allowed: &[&str] = if matches!(kind, "Approved" | "Denied" | "Failed") {
            &["True"]
        } else {
            &["True", "False", "Unknown"]
        };
        if !allowed.contains(&status) {
            errors.push(FieldError::not_supported(
                &path.index(i).child("status"),
                status,
                allowed,
            ));
        }
    }
    for kind in ["Approved", "Denied", "Failed"] {
        if of_type(&list, kind).len() > 1 {
            errors.push(FieldError::duplicate(&path, kind));
        }
    }
    if !of_type(&list, "Approved").is_empty() && !of_type(&list, "Denied").is_empty() {
        errors.push(FieldError::invalid(
            &path,
            "Approved",
            "Approved and Denied conditions are mutually exclusive",
        ));
    }
}

fn validate_certificate(obj: &Value, old: &Value, errors: &mut Vec<FieldError>) {
    let path = FieldPath::new("status").child("certificate");
    let new_cert = obj
        .pointer("/status/certificate")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let old_cert = old
        .pointer("/status/certificate")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if new_cert.is_empty() {
        if !old_cert.is_empty() {
            errors.push(FieldError::forbidden(
                &path,
                "updates may not modify existing certificate content",
            ));
        }
        return;
    }
    if !old_cert.is_empty() && old_cert != new_cert {
        errors.push(FieldError::forbidden(
            &path,
            "updates may not modify existing certificate content",
        ));
    }
    let list = conditions(obj);
    if of_type(&list, "Approved").is_empty() || !of_type(&list, "Denied").is_empty() {
        errors.push(FieldError::forbidden(
            &path,
            "certificate issuance requires Approved condition",
        ));
    }
    let valid = pem_blocks(new_cert)
        .is_some_and(|blocks| !blocks.is_empty() && blocks.iter().all(|(label, _)| label == "CERTIFICATE"));
    if !valid {
        errors.push(FieldError::invalid(
            &path,
            "<certificate data>",
            "must contain at least one CERTIFICATE PEM block",
        ));
    }
}

/// Approved and Denied conditions are set through `/approval` only, and never removed.
fn validate_approval_conditions(obj: &Value, old: &Value, status_write: bool, errors: &mut Vec<FieldError>) {
    let path = FieldPath::new("status").child("conditions");
    let (new_list, old_list) = (conditions(obj), conditions(old));
    for kind in ["Approved", "Denied"] {
        let (new, old) = (of_type(&new_list, kind), of_type(&old_list, kind));
        if status_write && new != old {
            errors.push(FieldError::forbidden(
                &path,
                format!("updates may not add or change a condition of type {kind:?}"),
            ));
        } else if new.len() < old.len() {
            errors.push(FieldError::forbidden(
                &path,
                format!("updates may not remove a condition of type {kind:?}"),
            ));
        }
    }
}

/// Upstream `populateConditionTimestamps`: a missing `lastUpdateTime` is now; a missing
/// `lastTransitionTime` is the old condition's when its status did not change, else now.
fn populate_condition_timestamps(new: &mut Value, old: Option<&Value>) {
    let old_list = old.map(conditions).unwrap_or_default();
    let now = crate::registry::object::now_rfc3339();
    let Some(list) = new
        .pointer_mut("/status/conditions")
        .and_then(Value::as_array_mut)
    else {
        return;
    };
    for c in list.iter_mut() {
        let Some(map) = c.as_object_mut() else { continue };
        if map.get("lastUpdateTime").is_none_or(Value::is_null) {
            map.insert("lastUpdateTime".into(), json!(now));
        }
        if map.get("lastTransitionTime").is_none_or(Value::is_null) {
            let kind = map.get("type").cloned();
            let status = map.get("status").cloned();
            let previous = old_list
                .iter()
                .find(|o| o.get("type") == kind.as_ref() && o.get("status") == status.as_ref())
                .and_then(|o| o.get("lastTransitionTime"))
                .filter(|t| !t.is_null())
                .cloned();
            map.insert(
                "lastTransitionTime".into(),
                previous.unwrap_or_else(|| json!(now)),
            );
        }
    }
}

impl Strategy for Csrs {
    /// Upstream does not care what CSRs are called ("We don't care what you call your
    /// certificate requests"); a name still has to be one path segment to be stored.
    fn name_validator(&self) -> rudder_api::validation::NameValidator {
        rudder_api::validation::validate_path_segment_name
    }

    fn prepare_for_create(&self, obj: &mut Value) {
        if let Some(map) = obj.as_object_mut() {
            map.remove("status");
        }
    }

    fn prepare_for_create_as(&self, obj: &mut Value, user: &UserInfo) {
        let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut) else {
            return;
        };
        spec.insert("username".into(), json!(user.name));
        for (field, value) in [
            ("uid", (!user.uid.is_empty()).then(|| json!(user.uid))),
            ("groups", (!user.groups.is_empty()).then(|| json!(user.groups))),
            ("extra", (!user.extra.is_empty()).then(|| json!(user.extra))),
        ] {
            match value {
                Some(v) => spec.insert(field.into(), v),
                None => spec.remove(field),
            };
        }
    }

    fn prepare_for_update(&self, new: &mut Value, old: &Value) {
        // The spec never changes after creation (upstream resets it on every update path).
        match old.get("spec") {
            Some(spec) => new["spec"] = spec.clone(),
            None => {
                if let Some(map) = new.as_object_mut() {
                    map.remove("spec");
                }
            }
        }
        populate_condition_timestamps(new, Some(old));
    }

    fn validate(&self, obj: &Value, old: Option<&Value>, write: WriteKind) -> Vec<FieldError> {
        let mut errors = Vec::new();
        validate_request(obj, &mut errors);
        validate_conditions(obj, &mut errors);
        if let Some(old) = old {
            validate_certificate(obj, old, &mut errors);
            validate_approval_conditions(obj, old, write == WriteKind::StatusUpdate, &mut errors);
        }
        errors
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    fn csr(status: Value) -> Value {
        let key = rcgen::KeyPair::generate().expect("key");
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "system:node:n1");
        let pem = params.serialize_request(&key).expect("csr").pem().expect("pem");
        json!({
            "metadata": {"name": "c"},
            "spec": {"request": b64(&pem), "signerName": "kubernetes.io/kube-apiserver-client-kubelet",
                     "usages": ["digital signature", "client auth"]},
            "status": status,
        })
    }

    type Mutation = Box<dyn Fn(&mut Value)>;

    fn approved() -> Value {
        json!({"type": "Approved", "status": "True", "reason": "AutoApproved"})
    }

    #[test]
    fn create_takes_the_user_from_the_request() {
        let mut obj = csr(json!({"certificate": "x"}));
        obj["spec"]["username"] = json!("someone-else");
        Csrs.prepare_for_create(&mut obj);
        let user = UserInfo {
            name: "system:bootstrap:abcdef".into(),
            groups: vec!["system:bootstrappers".into(), "system:authenticated".into()],
            ..UserInfo::default()
        };
        Csrs.prepare_for_create_as(&mut obj, &user);
        assert_eq!(obj["spec"]["username"], "system:bootstrap:abcdef");
        assert_eq!(
            obj["spec"]["groups"],
            json!(["system:bootstrappers", "system:authenticated"])
        );
        assert!(obj.get("status").is_none());
        assert!(Csrs.validate(&obj, None, WriteKind::Create).is_empty());
    }

    #[test]
    fn create_validation_table() {
        let cases: Vec<(&str, Mutation, &str)> = vec![
            (
                "no request",
                Box::new(|o| o["spec"]["request"] = json!("")),
                "spec.request",
            ),
            (
                "not a csr",
                Box::new(|o| o["spec"]["request"] = json!(b64("hello"))),
                "spec.request",
            ),
            (
                "no signer",
                Box::new(|o| o["spec"]["signerName"] = json!("")),
                "spec.signerName",
            ),
            (
                "no usages",
                Box::new(|o| o["spec"]["usages"] = json!([])),
                "spec.usages",
            ),
            (
                "bad usage",
                Box::new(|o| o["spec"]["usages"] = json!(["fly"])),
                "spec.usages[0]",
            ),
            (
                "short expiry",
                Box::new(|o| o["spec"]["expirationSeconds"] = json!(599)),
                "spec.expirationSeconds",
            ),
        ];
        for (what, change, field) in cases {
            let mut obj = csr(Value::Null);
            change(&mut obj);
            let errors = Csrs.validate(&obj, None, WriteKind::Create);
            assert!(
                errors.iter().any(|e| e.to_string().starts_with(field)),
                "{what}: {errors:?}"
            );
        }
    }

    #[test]
    fn status_writes_cannot_approve_and_certificates_need_approval() {
        let old = csr(json!({}));
        let mut approve_via_status = csr(json!({"conditions": [approved()]}));
        approve_via_status["spec"] = old["spec"].clone();
        assert!(
            !Csrs
                .validate(&approve_via_status, Some(&old), WriteKind::StatusUpdate)
                .is_empty()
        );
        // The same change through /approval (an ordinary update kind) is fine.
        assert!(
            Csrs.validate(&approve_via_status, Some(&old), WriteKind::Update)
                .is_empty()
        );

        let cert = b64("-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n");
        let mut unapproved_cert = old.clone();
        unapproved_cert["status"] = json!({"certificate": cert});
        let errors = Csrs.validate(&unapproved_cert, Some(&old), WriteKind::StatusUpdate);
        assert!(
            errors.iter().any(|e| e.to_string().contains("requires Approved")),
            "{errors:?}"
        );

        let mut issued = approve_via_status.clone();
        issued["status"]["certificate"] = json!(cert);
        assert!(
            Csrs.validate(&issued, Some(&approve_via_status), WriteKind::StatusUpdate)
                .is_empty()
        );
        let mut changed = issued.clone();
        changed["status"]["certificate"] = json!(b64(
            "-----BEGIN CERTIFICATE-----\nMAE=\n-----END CERTIFICATE-----\n"
        ));
        assert!(
            !Csrs
                .validate(&changed, Some(&issued), WriteKind::StatusUpdate)
                .is_empty()
        );
    }

    #[test]
    fn approval_conditions_exclude_each_other_and_stay() {
        let old = csr(json!({"conditions": [approved()]}));
        let both = csr(json!({"conditions": [approved(), {"type": "Denied", "status": "True"}]}));
        assert!(!Csrs.validate(&both, Some(&old), WriteKind::Update).is_empty());
        let removed = csr(json!({"conditions": []}));
        assert!(!Csrs.validate(&removed, Some(&old), WriteKind::Update).is_empty());
        let not_true = csr(json!({"conditions": [{"type": "Approved", "status": "False"}]}));
        assert!(!Csrs.validate(&not_true, None, WriteKind::Create).is_empty());
    }

    #[test]
    fn updates_keep_the_spec_and_stamp_conditions() {
        let old = csr(json!({"conditions": [{"type": "Custom", "status": "True",
            "lastTransitionTime": "2026-01-01T00:00:00Z", "lastUpdateTime": "2026-01-01T00:00:00Z"}]}));
        let mut new = csr(json!({"conditions": [{"type": "Custom", "status": "True"}, approved()]}));
        new["spec"]["signerName"] = json!("example.com/other");
        Csrs.prepare_for_update(&mut new, &old);
        assert_eq!(new["spec"], old["spec"]);
        let list = conditions(&new);
        assert_eq!(list[0]["lastTransitionTime"], "2026-01-01T00:00:00Z");
        assert!(list[0]["lastUpdateTime"].is_string());
        assert!(list[1]["lastUpdateTime"].is_string() && list[1]["lastTransitionTime"].is_string());
    }
}
