//! Secrets encrypted at rest (`--encryption-provider-config`): what the API returns is plain,
//! what etcd holds is upstream's `k8s:enc:<provider>:v1:<key>:` format without the plaintext,
//! other resources stay plain, and a key rotation keeps old data readable while rewrites move it
//! to the new key.

use std::path::Path;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::{Api, PostParams, WatchEvent, WatchParams};
use rudder_apiserver::options::{Config, StoreConfig, TlsSource};
use rudder_component::shutdown::Shutdown;
use rudder_store::Store;
use rudder_store::etcd::{EtcdOptions, EtcdStore};
use rudder_store::etcd_process::EtcdProcess;

const KEY1: &str = "YWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXowMTIzNDU=";
const KEY2: &str = "MDEyMzQ1Njc4OWFiY2RlZmdoaWprbG1ub3BxcnN0dXY=";

fn encryption_config(dir: &Path, name: &str, keys: &[(&str, &str)]) -> std::path::PathBuf {
    let keys: String = keys
        .iter()
        .map(|(n, s)| format!("            - name: {n}\n              secret: {s}\n"))
        .collect();
    let yaml = format!(
        "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n  - resources:\n      - secrets\n    providers:\n      - aescbc:\n          keys:\n{keys}      - identity: {{}}\n"
    );
    let path = dir.join(name);
    std::fs::write(&path, yaml).unwrap();
    path
}

struct Running {
    client: kube::Client,
    trigger: rudder_component::shutdown::ShutdownTrigger,
    server: rudder_apiserver::Server,
}

async fn start(
    etcd: &EtcdProcess,
    dir: &Path,
    encryption: Option<std::path::PathBuf>,
) -> Result<Running, String> {
    let config = Config {
        bind_address: [127, 0, 0, 1].into(),
        secure_port: 0,
        advertise_address: None,
        cert_dir: dir.join("pki"),
        tls: TlsSource::Generated,
        client_ca_file: None,
        token_auth_file: None,
        auth: rudder_apiserver::options::AuthConfig::default(),
        store: StoreConfig::Etcd {
            servers: vec![etcd.client_url().to_string()],
            prefix: "/registry".into(),
            tls: None,
        },
        service_range: ([10, 96, 0, 0].into(), 24),
        node_port_range: (30000, 32767),
        encryption_provider_config: encryption,
    };
    let (trigger, shutdown) = Shutdown::new();
    let server = rudder_apiserver::start(config, shutdown)
        .await
        .map_err(|e| format!("{e:#}"))?;
    let kc = kube::config::Kubeconfig::read_from(server.admin_kubeconfig.as_ref().unwrap()).unwrap();
    let cfg = kube::Config::from_custom_kubeconfig(kc, &Default::default())
        .await
        .unwrap();
    Ok(Running {
        client: kube::Client::try_from(cfg).unwrap(),
        trigger,
        server,
    })
}

impl Running {
    async fn stop(self) {
        self.trigger.trigger();
        self.server.wait().await.unwrap();
    }
}

async fn raw(etcd: &EtcdProcess, key: &str) -> Vec<u8> {
    let store = EtcdStore::connect(EtcdOptions {
        endpoints: vec![etcd.client_url().to_string()],
        prefix: "/registry".into(),
        ..Default::default()
    })
    .await
    .unwrap();
    store
        .get(key, None)
        .await
        .unwrap()
        .expect("stored")
        .value
        .to_vec()
}

fn secret(name: &str, password: &str) -> Secret {
    let mut s = Secret::default();
    s.metadata.name = Some(name.into());
    s.data = Some([("password".to_string(), ByteString(password.as_bytes().to_vec()))].into());
    s
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_are_encrypted_in_etcd_and_keys_rotate() {
    let dir = tempfile::tempdir().unwrap();
    let etcd = tokio::task::spawn_blocking(EtcdProcess::start).await.unwrap();
    let one_key = encryption_config(dir.path(), "one.yaml", &[("key1", KEY1)]);
    let api = start(&etcd, dir.path(), Some(one_key)).await.unwrap();
    let secrets: Api<Secret> = Api::namespaced(api.client.clone(), "default");

    let wp = WatchParams::default().fields("metadata.name=s1").timeout(30);
    let mut watch = secrets.watch(&wp, "0").await.unwrap().boxed();
    secrets
        .create(&PostParams::default(), &secret("s1", "hunter2"))
        .await
        .unwrap();
    let stored = raw(&etcd, "/secrets/default/s1").await;
    assert!(
        stored.starts_with(b"k8s:enc:aescbc:v1:key1:"),
        "{}",
        String::from_utf8_lossy(&stored)
    );
    assert!(
        !contains(&stored, b"hunter2") && !contains(&stored, b"aHVudGVyMg=="),
        "plaintext in etcd"
    );
    assert!(!contains(&stored, b"\"kind\""), "the whole object is sealed");

    // Reads and watches see the plain object.
    let back = secrets.get("s1").await.unwrap();
    assert_eq!(back.data.unwrap()["password"].0, b"hunter2");
    let event = tokio::time::timeout(Duration::from_secs(10), watch.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    match event {
        WatchEvent::Added(s) => assert_eq!(s.data.unwrap()["password"].0, b"hunter2"),
        other => panic!("{other:?}"),
    }

    // Resources the configuration does not name stay plain.
    let cms: Api<ConfigMap> = Api::namespaced(api.client.clone(), "default");
    let mut cm = ConfigMap::default();
    cm.metadata.name = Some("plain".into());
    cm.data = Some([("k".to_string(), "visible".to_string())].into());
    cms.create(&PostParams::default(), &cm).await.unwrap();
    assert!(contains(
        &raw(&etcd, "/configmaps/default/plain").await,
        b"visible"
    ));
    api.stop().await;

    // Rotation: key2 first, key1 still listed. Old data reads; a rewrite moves it to key2.
    let rotated = encryption_config(dir.path(), "two.yaml", &[("key2", KEY2), ("key1", KEY1)]);
    let api = start(&etcd, dir.path(), Some(rotated)).await.unwrap();
    let secrets: Api<Secret> = Api::namespaced(api.client.clone(), "default");
    let old = secrets.get("s1").await.expect("data under the old key reads");
    assert_eq!(old.data.as_ref().unwrap()["password"].0, b"hunter2");
    secrets.replace("s1", &PostParams::default(), &old).await.unwrap();
    assert!(
        raw(&etcd, "/secrets/default/s1")
            .await
            .starts_with(b"k8s:enc:aescbc:v1:key2:")
    );
    api.stop().await;

    // Dropping the key that sealed the data makes it unreadable: the apiserver refuses to start
    // and names the object, rather than serving without it.
    let only_key1 = encryption_config(dir.path(), "old.yaml", &[("key1", KEY1)]);
    let err = start(&etcd, dir.path(), Some(only_key1))
        .await
        .err()
        .expect("refused");
    assert!(
        err.contains("decrypting /secrets/default/s1: no matching prefix found"),
        "{err}"
    );

    // A broken configuration stops the apiserver from starting, naming the problem.
    let bad = dir.path().join("bad.yaml");
    std::fs::write(&bad, "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n- resources: [secrets]\n  providers:\n  - aescbc: {keys: [{name: k, secret: c2hvcnQ=}]}\n").unwrap();
    let err = start(&etcd, dir.path(), Some(bad)).await.err().expect("refused");
    assert!(
        err.contains("--encryption-provider-config") && err.contains("keys are 16, 24, 32 bytes"),
        "{err}"
    );
    drop(etcd);
}
