//! The apiserver on an etcd that serves TLS and requires client certificates
//! (`--etcd-cafile`, `--etcd-certfile`, `--etcd-keyfile`), and the flags' validation.

use std::path::{Path, PathBuf};

use clap::Parser;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, PostParams};
use rudder_apiserver::options::{Options, StoreConfig};
use rudder_component::certs::{CertificateAuthority, sign_client_cert, sign_serving_cert};
use rudder_component::shutdown::Shutdown;
use rudder_store::etcd_process::{EtcdProcess, EtcdProcessOptions, EtcdServerTls};

fn write(dir: &Path, name: &str, body: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, body).unwrap();
    path
}

fn parse(args: &[&str]) -> Result<rudder_apiserver::options::Config, String> {
    let mut argv = vec!["kube-apiserver"];
    argv.extend_from_slice(args);
    Options::try_parse_from(argv)
        .map_err(|e| e.to_string())?
        .into_config()
        .map_err(|e| e.to_string())
}

#[test]
fn etcd_tls_flags_are_validated() {
    let https = "--etcd-servers=https://127.0.0.1:2379";
    let err = parse(&[https, "--etcd-certfile=/c.crt"]).unwrap_err();
    assert!(err.contains("--etcd-keyfile"), "{err}");
    let err = parse(&[https, "--etcd-certfile=/c.crt", "--etcd-keyfile=/c.key"]).unwrap_err();
    assert!(err.contains("--etcd-cafile"), "{err}");
    let config = parse(&[
        https,
        "--etcd-cafile=/ca.crt",
        "--etcd-certfile=/c.crt",
        "--etcd-keyfile=/c.key",
    ])
    .unwrap();
    match config.store {
        StoreConfig::Etcd { tls: Some(tls), .. } => {
            assert_eq!(tls.ca_file, PathBuf::from("/ca.crt"));
            assert_eq!(tls.client_key_file, Some(PathBuf::from("/c.key")));
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        parse(&["--etcd-servers=http://127.0.0.1:2379"]).unwrap().store,
        StoreConfig::Etcd { tls: None, .. }
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_apiserver_stores_in_an_etcd_that_requires_tls_client_certificates() {
    let dir = tempfile::tempdir().unwrap();
    let ca = CertificateAuthority::generate("etcd-ca").unwrap();
    let (server_cert, server_key) = sign_serving_cert(&ca, "etcd", &["127.0.0.1".to_string()]).unwrap();
    let (client_cert, client_key) =
        sign_client_cert(&ca, "kube-apiserver-etcd-client", &[] as &[&str]).unwrap();
    let ca_file = write(dir.path(), "etcd-ca.crt", ca.cert_pem());
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
    let cert = write(dir.path(), "client.crt", &client_cert);
    let key = write(dir.path(), "client.key", &client_key);
    let pki = dir.path().join("pki");
    let config = parse(&[
        "--bind-address=127.0.0.1",
        "--secure-port=0",
        &format!("--cert-dir={}", pki.display()),
        &format!("--etcd-servers={}", etcd.client_url()),
        &format!("--etcd-cafile={}", ca_file.display()),
        &format!("--etcd-certfile={}", cert.display()),
        &format!("--etcd-keyfile={}", key.display()),
    ])
    .unwrap();
    let (trigger, shutdown) = Shutdown::new();
    let server = rudder_apiserver::start(config, shutdown)
        .await
        .expect("apiserver on TLS etcd");
    let kubeconfig = server.admin_kubeconfig.clone().unwrap();
    let kc = kube::config::Kubeconfig::read_from(&kubeconfig).unwrap();
    let cfg = kube::Config::from_custom_kubeconfig(kc, &Default::default())
        .await
        .unwrap();
    let client = kube::Client::try_from(cfg).unwrap();
    let cms: Api<ConfigMap> = Api::namespaced(client, "default");
    let mut cm = ConfigMap::default();
    cm.metadata.name = Some("over-tls".into());
    cm.data = Some([("k".to_string(), "v".to_string())].into());
    cms.create(&PostParams::default(), &cm).await.expect("create");
    let back = cms.get("over-tls").await.expect("read back");
    assert_eq!(back.data.unwrap()["k"], "v");
    trigger.trigger();
    server.wait().await.unwrap();
    drop(etcd);
}
