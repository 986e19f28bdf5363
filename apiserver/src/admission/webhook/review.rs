//! AdmissionReview v1 (upstream `webhook/request`): the request a webhook receives and what its
//! response means (allowed, the deny Status, a base64 JSONPatch, warnings), plus the errors in
//! upstream's words.

use base64::Engine;
use rudder_api::status::{ApiError, StatusReason};
use serde_json::{Value, json};

use crate::admission::{Attributes, Operation};

/// The `request` of an AdmissionReview; `obj` is the new object (`None` on deletes).
pub(crate) fn request(uid: &str, attrs: &Attributes<'_>, obj: Option<&Value>) -> Value {
    let info = attrs.resource;
    // The kind of what is sent: the object's own apiVersion/kind (a subresource such as scale
    // has its own kind), else the resource's.
    let body = obj.or(attrs.old);
    let (group, version, kind) =
        match body.and_then(|o| Some((o.get("apiVersion")?.as_str()?, o.get("kind")?.as_str()?))) {
            Some((api_version, kind)) => {
                let (g, v) = api_version.split_once('/').unwrap_or(("", api_version));
                (g.to_string(), v.to_string(), kind.to_string())
            }
            None => (
                info.group.to_string(),
                info.version.to_string(),
                info.kind.to_string(),
            ),
        };
    let gvk = json!({"group": group, "version": version, "kind": kind});
    let gvr = json!({"group": info.group, "version": info.version, "resource": info.plural});
    let options_kind = match attrs.operation {
        Operation::Create => "CreateOptions",
        Operation::Update => "UpdateOptions",
        Operation::Delete => "DeleteOptions",
        Operation::Connect => "",
    };
    let mut req = json!({
        "uid": uid,
        "kind": gvk,
        "resource": gvr,
        "requestKind": gvk,
        "requestResource": gvr,
        "operation": attrs.operation.as_str(),
        "userInfo": {
            "username": attrs.user.name,
            "groups": attrs.user.groups,
        },
        "object": if attrs.operation == Operation::Delete { Value::Null } else { obj.cloned().unwrap_or(Value::Null) },
        "oldObject": attrs.old.cloned().unwrap_or(Value::Null),
        "dryRun": attrs.dry_run,
    });
    let set = |req: &mut Value, key: &str, v: Value| {
        if let Some(m) = req.as_object_mut() {
            m.insert(key.into(), v);
        }
    };
    if !attrs.subresource.is_empty() {
        set(&mut req, "subResource", json!(attrs.subresource));
        set(&mut req, "requestSubResource", json!(attrs.subresource));
    }
    let name = body
        .and_then(|o| o.pointer("/metadata/name"))
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
        .unwrap_or(attrs.name);
    if !name.is_empty() {
        set(&mut req, "name", json!(name));
    }
    if !attrs.namespace.is_empty() {
        set(&mut req, "namespace", json!(attrs.namespace));
    }
    if !attrs.user.uid.is_empty() {
        req["userInfo"]["uid"] = json!(attrs.user.uid);
    }
    if !attrs.user.extra.is_empty() {
        req["userInfo"]["extra"] = json!(attrs.user.extra);
    }
    if !options_kind.is_empty() {
        let mut options = json!({"apiVersion": "meta.k8s.io/v1", "kind": options_kind});
        if attrs.dry_run {
            options["dryRun"] = json!(["All"]);
        }
        set(&mut req, "options", options);
    }
    req
}

/// The whole review document sent to a webhook.
pub(crate) fn review(request: Value) -> Value {
    json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request})
}

/// What a webhook answered.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Verdict {
    pub(crate) allowed: bool,
    /// `response.status` (on denials).
    pub(crate) status: Option<Value>,
    /// The decoded JSONPatch, if any.
    pub(crate) patch: Option<Value>,
    pub(crate) warnings: Vec<String>,
}

/// Parses a webhook's answer to the review with `uid` (upstream `VerifyAdmissionResponse`);
/// an `Err` is a failure to call the webhook (subject to failurePolicy).
pub(crate) fn parse_response(uid: &str, body: &[u8], mutating: bool) -> Result<Verdict, String> {
    let doc: Value =
        serde_json::from_slice(body).map_err(|e| format!("received invalid webhook response: {e}"))?;
    if doc.get("apiVersion").and_then(Value::as_str) != Some("admission.k8s.io/v1")
        || doc.get("kind").and_then(Value::as_str) != Some("AdmissionReview")
    {
        return Err(format!(
            "expected webhook response of admission.k8s.io/v1, Kind=AdmissionReview, got {}, Kind={}",
            doc.get("apiVersion").and_then(Value::as_str).unwrap_or_default(),
            doc.get("kind").and_then(Value::as_str).unwrap_or_default()
        ));
    }
    let resp = doc
        .get("response")
        .filter(|r| r.is_object())
        .ok_or_else(|| "webhook response was absent".to_string())?;
    let got_uid = resp.get("uid").and_then(Value::as_str).unwrap_or_default();
    if got_uid != uid {
        return Err(format!("expected response.uid={uid:?}, got {got_uid:?}"));
    }
    let patch = match resp
        .get("patch")
        .and_then(Value::as_str)
        .filter(|p| !p.is_empty())
    {
        None => None,
        Some(_) if !mutating => return Err("validating webhooks may not return patches".into()),
        Some(b64) => {
            let pt = resp.get("patchType").and_then(Value::as_str).unwrap_or_default();
            if pt != "JSONPatch" {
                return Err(format!("expected patchType \"JSONPatch\", got {pt:?}"));
            }
            let raw = base64::engine::general_purpose::STANDARD
                .decode(b64)
                .map_err(|e| format!("cannot decode the patch: {e}"))?;
            Some(serde_json::from_slice(&raw).map_err(|e| format!("cannot decode the patch: {e}"))?)
        }
    };
    Ok(Verdict {
        allowed: resp.get("allowed").and_then(Value::as_bool).unwrap_or(false),
        status: resp.get("status").cloned(),
        patch,
        warnings: resp
            .get("warnings")
            .and_then(Value::as_array)
            .map(|w| w.iter().filter_map(Value::as_str).map(str::to_string).collect())
            .unwrap_or_default(),
    })
}

/// The error a denial becomes (upstream `webhookerrors.ToStatusErr`): the webhook's code
/// (at least 400), reason and message behind `admission webhook "<name>" denied the request`.
pub(crate) fn denied(webhook: &str, status: Option<&Value>) -> ApiError {
    let field = |k: &str| status.and_then(|s| s.get(k));
    let code = field("code")
        .and_then(Value::as_u64)
        .and_then(|c| u16::try_from(c).ok())
        .filter(|c| *c >= 400)
        .unwrap_or(400);
    let reason_str = field("reason").and_then(Value::as_str).unwrap_or_default();
    let message = field("message").and_then(Value::as_str).unwrap_or_default();
    let denied_by = format!("admission webhook {webhook:?} denied the request");
    let message = if !message.is_empty() {
        format!("{denied_by}: {message}")
    } else if !reason_str.is_empty() {
        format!("{denied_by}: {reason_str}")
    } else {
        format!("{denied_by} without explanation")
    };
    ApiError::new(code, StatusReason::parse(reason_str), message)
}

/// A failed call under failurePolicy Fail (upstream: an internal error wrapping
/// `ErrCallingWebhook`).
pub(crate) fn call_failed(webhook: &str, why: &str) -> ApiError {
    ApiError::internal(format!("failed calling webhook {webhook:?}: {why}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admission::tests::attrs;

    #[test]
    fn request_carries_the_attributes() {
        let mut a = attrs(Operation::Update, "pods", "ns", "p");
        let old = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}});
        a.old = Some(&old);
        a.subresource = "status";
        a.dry_run = true;
        let new = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "labels": {"a": "b"}}});
        let r = request("u1", &a, Some(&new));
        assert_eq!(r["uid"], "u1");
        assert_eq!(r["kind"], json!({"group": "", "version": "v1", "kind": "Pod"}));
        assert_eq!(
            r["resource"],
            json!({"group": "", "version": "v1", "resource": "pods"})
        );
        assert_eq!(r["subResource"], "status");
        assert_eq!(r["operation"], "UPDATE");
        assert_eq!(r["name"], "p");
        assert_eq!(r["namespace"], "ns");
        assert_eq!(r["userInfo"]["username"], "admin");
        assert_eq!(r["object"], new);
        assert_eq!(r["oldObject"], old);
        assert_eq!(r["dryRun"], true);
        assert_eq!(r["options"]["kind"], "UpdateOptions");
        let mut d = attrs(Operation::Delete, "pods", "ns", "p");
        d.old = Some(&old);
        let r = request("u2", &d, Some(&old));
        assert_eq!(r["object"], Value::Null);
        assert_eq!(r["oldObject"], old);
    }

    #[test]
    fn responses_are_checked_and_decoded() {
        let resp = |r: Value| {
            serde_json::to_vec(
                &json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "response": r}),
            )
            .unwrap_or_default()
        };
        let patch =
            base64::engine::general_purpose::STANDARD.encode(br#"[{"op":"add","path":"/x","value":1}]"#);
        let ok = parse_response(
            "u",
            &resp(json!({"uid": "u", "allowed": true, "warnings": ["w"]})),
            false,
        );
        assert_eq!(
            ok,
            Ok(Verdict {
                allowed: true,
                status: None,
                patch: None,
                warnings: vec!["w".into()]
            })
        );
        assert!(parse_response("u", &resp(json!({"uid": "v", "allowed": true})), false).is_err());
        assert!(parse_response("u", b"{}", false).is_err());
        let p = json!({"uid": "u", "allowed": true, "patchType": "JSONPatch", "patch": patch});
        assert!(
            parse_response("u", &resp(p.clone()), false).is_err(),
            "validating may not patch"
        );
        let v = parse_response("u", &resp(p), true).expect("patch decodes");
        assert_eq!(v.patch, Some(json!([{"op": "add", "path": "/x", "value": 1}])));
    }

    #[test]
    fn denials_read_like_upstream() {
        let e = denied(
            "deny.example.com",
            Some(&json!({"code": 403, "message": "no pods named bad"})),
        );
        assert_eq!(e.code(), 403);
        assert_eq!(
            e.message(),
            "admission webhook \"deny.example.com\" denied the request: no pods named bad"
        );
        let e = denied("w", None);
        assert_eq!(e.code(), 400);
        assert_eq!(
            e.message(),
            "admission webhook \"w\" denied the request without explanation"
        );
        let e = denied("w", Some(&json!({"code": 200, "reason": "Forbidden"})));
        assert_eq!((e.code(), e.reason()), (400, StatusReason::Forbidden));
        assert_eq!(
            e.message(),
            "admission webhook \"w\" denied the request: Forbidden"
        );
    }
}
