//! Two apiservers on one etcd keep the `kubernetes` Service's Endpoints and EndpointSlice
//! listing both of them (upstream's lease endpoint reconciler), a stopped one is withdrawn at
//! once, and each keeps its identity Lease in kube-system.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Endpoints;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::{Api, ListParams};
use rudder_apiserver::options::{Config, StoreConfig, TlsSource};
use rudder_component::shutdown::Shutdown;
use rudder_store::etcd_process::EtcdProcess;
use rudder_testkit::eventually;

fn config(ip: Ipv4Addr, etcd: &EtcdProcess, dir: &std::path::Path) -> Config {
    Config {
        bind_address: IpAddr::V4(ip),
        secure_port: 0,
        advertise_address: None,
        cert_dir: dir.join(ip.to_string()),
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
        encryption_provider_config: None,
    }
}

async fn client(kubeconfig: &std::path::Path) -> kube::Client {
    let kc = kube::config::Kubeconfig::read_from(kubeconfig).expect("kubeconfig");
    let cfg = kube::Config::from_custom_kubeconfig(kc, &Default::default())
        .await
        .expect("client config");
    kube::Client::try_from(cfg).expect("client")
}

async fn endpoint_ips(client: &kube::Client) -> Result<Vec<String>, String> {
    let ep = Api::<Endpoints>::namespaced(client.clone(), "default")
        .get("kubernetes")
        .await
        .map_err(|e| e.to_string())?;
    Ok(ep
        .subsets
        .unwrap_or_default()
        .iter()
        .flat_map(|s| s.addresses.clone().unwrap_or_default())
        .map(|a| a.ip)
        .collect())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_kubernetes_service_lists_every_live_apiserver() {
    let dir = tempfile::tempdir().unwrap();
    let etcd = tokio::task::spawn_blocking(EtcdProcess::start).await.unwrap();
    let (a_ip, b_ip) = (Ipv4Addr::new(127, 0, 0, 1), Ipv4Addr::new(127, 0, 0, 2));
    let (_a_trigger, a_shutdown) = Shutdown::new();
    let a = rudder_apiserver::start(config(a_ip, &etcd, dir.path()), a_shutdown)
        .await
        .expect("apiserver a");
    let (b_trigger, b_shutdown) = Shutdown::new();
    let b = rudder_apiserver::start(config(b_ip, &etcd, dir.path()), b_shutdown)
        .await
        .expect("apiserver b");
    let (a_port, b_port) = (a.local_addr.port(), b.local_addr.port());
    let a_client = client(a.admin_kubeconfig.as_ref().unwrap()).await;
    let _a = tokio::spawn(a.wait());

    eventually(
        "both apiservers in the kubernetes endpoints",
        Duration::from_secs(30),
        || {
            let c = a_client.clone();
            async move {
                let ips = endpoint_ips(&c).await.ok()?;
                (ips == ["127.0.0.1", "127.0.0.2"]).then_some(())
            }
        },
    )
    .await;
    let ep = Api::<Endpoints>::namespaced(a_client.clone(), "default")
        .get("kubernetes")
        .await
        .unwrap();
    let port = &ep.subsets.unwrap()[0].ports.clone().unwrap()[0];
    assert_eq!(
        (port.name.as_deref(), port.protocol.as_deref()),
        (Some("https"), Some("TCP"))
    );
    // Both servers write their own port; with random test ports the last writer's port stands.
    assert!(
        [a_port, b_port].contains(&(port.port as u16)),
        "port {}",
        port.port
    );
    assert_eq!(
        ep.metadata
            .labels
            .unwrap()
            .get("endpointslice.kubernetes.io/skip-mirror")
            .map(String::as_str),
        Some("true")
    );

    let slice = Api::<EndpointSlice>::namespaced(a_client.clone(), "default")
        .get("kubernetes")
        .await
        .expect("the kubernetes EndpointSlice");
    assert_eq!(slice.address_type, "IPv4");
    let mut addrs: Vec<String> = slice.endpoints.iter().flat_map(|e| e.addresses.clone()).collect();
    addrs.sort();
    assert_eq!(addrs, ["127.0.0.1", "127.0.0.2"]);
    assert!(
        slice
            .endpoints
            .iter()
            .all(|e| e.conditions.as_ref().and_then(|c| c.ready) == Some(true))
    );

    let leases = Api::<Lease>::namespaced(a_client.clone(), "kube-system")
        .list(&ListParams::default().labels("apiserver.kubernetes.io/identity=kube-apiserver"))
        .await
        .unwrap();
    let lease = leases.items.first().expect("an identity lease");
    assert!(lease.metadata.name.as_deref().unwrap().starts_with("apiserver-"));
    let spec = lease.spec.as_ref().unwrap();
    assert_eq!(spec.lease_duration_seconds, Some(3600));
    assert!(spec.renew_time.is_some() && spec.holder_identity.is_some());

    // A stopped apiserver withdraws its lease on the way out: gone from the endpoints at once,
    // not after the 15 s lease lifetime.
    b_trigger.trigger();
    b.wait().await.expect("apiserver b stops");
    let ips = endpoint_ips(&a_client).await.unwrap();
    assert_eq!(ips, ["127.0.0.1"]);
    drop(etcd);
}
