//! A real HTTPS admission webhook, on 127.0.0.1 with its own CA. What it
//! answers depends on the path:
//! - `/deny`: refuses objects labelled `deny: "yes"` (403, "the deny label is set"), allows
//!   the rest with a warning;
//! - `/label`: allows with a JSONPatch adding the label `mutated: "yes"`;
//! - `/other`: allows with a JSONPatch adding the label `other: "yes"`;
//! - `/slow`: answers after 5 seconds.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use base64::Engine;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use rudder_component::certs::{CertificateAuthority, sign_serving_cert};
use serde_json::{Value, json};

/// The name its certificate carries for `clientConfig.service` {name: hook, namespace: default}.
pub(crate) const SERVICE_NAME: &str = "hook.default.svc";

pub(crate) struct Hook {
    pub(crate) port: u16,
    /// The CA bundle as a webhook configuration carries it (base64 PEM).
    pub(crate) ca_bundle: String,
    calls: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Hook {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Hook {
    pub(crate) async fn start() -> Hook {
        let ca = CertificateAuthority::generate("webhook-ca").expect("CA");
        let (cert, key) =
            sign_serving_cert(&ca, "hook", &["127.0.0.1".to_string(), SERVICE_NAME.to_string()])
                .expect("serving cert");
        let tls = rudder_component::tls::server_config_from_pem(cert.as_bytes(), key.as_bytes(), None)
            .expect("server TLS");
        let acceptor = tokio_rustls::TlsAcceptor::from(tls);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let calls = Arc::new(AtomicUsize::new(0));
        let counter = calls.clone();
        let task = tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let (acceptor, counter) = (acceptor.clone(), counter.clone());
                tokio::spawn(async move {
                    let Ok(stream) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let service = hyper::service::service_fn(move |req| {
                        counter.fetch_add(1, Ordering::SeqCst);
                        answer(req)
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Hook {
            port,
            ca_bundle: base64::engine::general_purpose::STANDARD.encode(ca.cert_pem()),
            calls,
            task,
        }
    }

    pub(crate) fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    /// A webhook entry calling `path` for CREATEs of ConfigMaps.
    pub(crate) fn webhook(&self, name: &str, path: &str, extra: Value) -> Value {
        let mut hook = json!({
            "name": name,
            "clientConfig": {"url": format!("https://127.0.0.1:{}{path}", self.port), "caBundle": self.ca_bundle},
            "rules": [{"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["configmaps"]}],
            "sideEffects": "None",
            "admissionReviewVersions": ["v1"],
        });
        if let (Some(h), Some(e)) = (hook.as_object_mut(), extra.as_object()) {
            h.extend(e.clone());
        }
        hook
    }
}

async fn answer(req: hyper::Request<Incoming>) -> Result<hyper::Response<Full<Bytes>>, hyper::Error> {
    let path = req.uri().path().to_string();
    let body = req.into_body().collect().await?.to_bytes();
    let review: Value = serde_json::from_slice(&body).unwrap_or_default();
    let request = &review["request"];
    let mut response = json!({"uid": request["uid"], "allowed": true});
    match path.as_str() {
        "/deny" if request.pointer("/object/metadata/labels/deny") == Some(&json!("yes")) => {
            response["allowed"] = json!(false);
            response["status"] = json!({"code": 403, "message": "the deny label is set"});
        }
        "/deny" => response["warnings"] = json!(["checked by the test webhook"]),
        "/label" | "/other" => {
            let label = if path == "/label" { "mutated" } else { "other" };
            let patch = match request.pointer("/object/metadata/labels") {
                Some(Value::Object(_)) => {
                    json!([{"op": "add", "path": format!("/metadata/labels/{label}"), "value": "yes"}])
                }
                _ => json!([{"op": "add", "path": "/metadata/labels", "value": {label: "yes"}}]),
            };
            response["patchType"] = json!("JSONPatch");
            response["patch"] = json!(base64::engine::general_purpose::STANDARD.encode(patch.to_string()));
        }
        "/slow" => tokio::time::sleep(Duration::from_secs(5)).await,
        _ => {}
    }
    let out = json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "response": response});
    Ok(hyper::Response::builder()
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(out.to_string())))
        .unwrap_or_default())
}
