use super::*;

#[test]
fn atomic_writer_swaps_and_removes() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("v");
    let mut files = Files::from([
        ("a".into(), (b"1".to_vec(), 0o644)),
        ("sub/b".into(), (b"2".to_vec(), 0o600)),
    ]);
    assert!(write_atomic(&dir, &files).unwrap());
    assert_eq!(std::fs::read_to_string(dir.join("a")).unwrap(), "1");
    assert_eq!(std::fs::read_to_string(dir.join("sub/b")).unwrap(), "2");
    assert!(!write_atomic(&dir, &files).unwrap(), "unchanged: no write");
    files.insert("a".into(), (b"new".to_vec(), 0o644));
    files.remove("sub/b");
    assert!(write_atomic(&dir, &files).unwrap());
    assert_eq!(std::fs::read_to_string(dir.join("a")).unwrap(), "new");
    assert!(!dir.join("sub").exists());
    let stamps = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("..1"))
        .count();
    assert_eq!(stamps, 1, "old timestamped dir removed");
}

#[test]
fn kube_api_access_volume_has_token_ca_and_namespace() {
    let pod: Pod = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "p", "namespace": "team", "uid": "u1"},
        "spec": {"containers": [{"name": "c"}], "volumes": [{"name": "kube-api-access-abcde",
            "projected": {"defaultMode": 420, "sources": [
                {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                {"downwardAPI": {"items": [{"path": "namespace",
                    "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}}]}}]}
    }))
    .unwrap();
    let node = crate::node::NodeFacts {
        name: "n".into(),
        ip: "10.0.0.1".parse().unwrap(),
        allocatable_cpu_milli: 2000,
        allocatable_memory: 1 << 30,
    };
    let cm: k8s_openapi::api::core::v1::ConfigMap = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "kube-root-ca.crt"}, "data": {"ca.crt": "PEM"}
    }))
    .unwrap();
    let mut src = Sources::default();
    src.config_maps.insert("kube-root-ca.crt".into(), Some(cm));
    let v = &pod.spec.as_ref().unwrap().volumes.as_ref().unwrap()[0];
    // No token yet: the volume is not ready (the pod waits, as upstream).
    let err = desired_files(&pod, v, &src, &node, "").unwrap_err();
    assert!(err.contains("not issued"), "{err}");
    src.tokens.insert(
        "|3607".into(),
        crate::pod::token::Token {
            token: "jwt".into(),
            expires: std::time::SystemTime::now(),
            expiration_seconds: 3607,
        },
    );
    let files = desired_files(&pod, v, &src, &node, "").unwrap().unwrap();
    assert_eq!(files["token"], (b"jwt".to_vec(), 0o644));
    assert_eq!(files["ca.crt"].0, b"PEM");
    assert_eq!(files["namespace"].0, b"team");
}
