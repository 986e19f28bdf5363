//! TLS to etcd (`--etcd-cafile`, `--etcd-certfile`, `--etcd-keyfile`): a store connects to an
//! etcd that serves TLS and requires client certificates, and each misconfiguration fails with
//! an error instead of falling back to clear text.

use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;
use rudder_component::certs::{CertificateAuthority, sign_client_cert, sign_serving_cert};
use rudder_store::etcd::{EtcdOptions, EtcdStore, EtcdTls};
use rudder_store::etcd_process::{EtcdProcess, EtcdProcessOptions, EtcdServerTls};
use rudder_store::{Store, StoreError};

fn write(dir: &Path, name: &str, body: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, body).unwrap();
    path
}

fn options(endpoint: &str, tls: Option<EtcdTls>) -> EtcdOptions {
    EtcdOptions {
        endpoints: vec![endpoint.to_string()],
        connect_timeout: Duration::from_secs(3),
        request_timeout: Duration::from_secs(3),
        tls,
        ..Default::default()
    }
}

#[tokio::test]
async fn a_store_talks_to_etcd_over_tls_with_a_client_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let ca = CertificateAuthority::generate("etcd-ca").unwrap();
    let (server_cert, server_key) = sign_serving_cert(&ca, "etcd", &["127.0.0.1".to_string()]).unwrap();
    let (client_cert, client_key) =
        sign_client_cert(&ca, "kube-apiserver-etcd-client", &[] as &[&str]).unwrap();
    let ca_file = write(dir.path(), "ca.crt", ca.cert_pem());
    let server = EtcdServerTls {
        cert_file: write(dir.path(), "server.crt", &server_cert),
        key_file: write(dir.path(), "server.key", &server_key),
        trusted_ca_file: ca_file.clone(),
    };
    let etcd = tokio::task::spawn_blocking(move || {
        EtcdProcess::start_with(EtcdProcessOptions {
            unsafe_no_fsync: true,
            tls: Some(server),
            ..Default::default()
        })
    })
    .await
    .unwrap();
    let url = etcd.client_url().to_string();
    assert!(url.starts_with("https://"), "{url}");
    let full = EtcdTls {
        ca_file: ca_file.clone(),
        client_cert_file: Some(write(dir.path(), "client.crt", &client_cert)),
        client_key_file: Some(write(dir.path(), "client.key", &client_key)),
    };

    let store = EtcdStore::connect(options(&url, Some(full.clone())))
        .await
        .expect("connect over TLS");
    store
        .create("/tls/a", Bytes::from_static(b"1"))
        .await
        .expect("write over TLS");
    let kv = store.get("/tls/a", None).await.unwrap().expect("read back");
    assert_eq!(&kv.value[..], b"1");

    // etcd requires a client certificate: without one the connection is refused.
    let no_identity = EtcdTls {
        client_cert_file: None,
        client_key_file: None,
        ..full.clone()
    };
    assert!(
        EtcdStore::connect(options(&url, Some(no_identity)))
            .await
            .is_err()
    );

    // A CA that did not sign etcd's certificate: the server is not trusted.
    let other = CertificateAuthority::generate("other-ca").unwrap();
    let wrong_ca = EtcdTls {
        ca_file: write(dir.path(), "other.crt", other.cert_pem()),
        ..full.clone()
    };
    assert!(EtcdStore::connect(options(&url, Some(wrong_ca))).await.is_err());

    // https without TLS settings, and http with them, are refused before connecting.
    let err = EtcdStore::connect(options(&url, None)).await.unwrap_err();
    assert!(
        matches!(&err, StoreError::InvalidArgument(m) if m.contains("--etcd-cafile")),
        "{err}"
    );
    let plain = url.replace("https://", "http://");
    let err = EtcdStore::connect(options(&plain, Some(full.clone())))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::InvalidArgument(m) if m.contains("https://")),
        "{err}"
    );

    // Half a client identity is a configuration error, not an anonymous connection.
    let half = EtcdTls {
        client_key_file: None,
        ..full
    };
    let err = EtcdStore::connect(options(&url, Some(half))).await.unwrap_err();
    assert!(
        matches!(&err, StoreError::InvalidArgument(m) if m.contains("both")),
        "{err}"
    );
    drop(store);
    drop(etcd);
}
