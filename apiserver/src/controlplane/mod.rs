//! What each apiserver keeps up about itself while it runs, as upstream's control plane does:
//! its master lease and the `kubernetes` Service's endpoints (all live apiservers), and its
//! identity Lease in kube-system. On shutdown it withdraws its master lease and rewrites the
//! endpoints without itself, so clients move to the other apiservers at once.

mod endpoints;
mod identity;

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use rudder_api::status::ApiError;
use rudder_component::shutdown::Shutdown;
use rudder_store::{ListOptions, StoreError};
use serde_json::Value;

use crate::registry::write::{SERVER_MANAGER, WriteOptions};
use crate::registry::{DeleteOptions, Registry, store_error};
use endpoints::{MASTER_LEASES_PREFIX, MasterLease};

/// Upstream's DefaultEndpointReconcilerInterval and DefaultEndpointReconcilerTTL.
const RECONCILE_INTERVAL: Duration = Duration::from_secs(10);
const MASTER_LEASE_TTL: Duration = Duration::from_secs(15);
/// Upstream's IdentityLeaseGCPeriod, in reconcile ticks (one hour).
const IDENTITY_GC_EVERY: u64 = 360;

/// Who this apiserver is, for its leases.
#[derive(Debug, Clone)]
pub(crate) struct Identity {
    /// The address clients reach it at (`--advertise-address`).
    pub(crate) ip: std::net::IpAddr,
    pub(crate) port: u16,
    pub(crate) hostname: String,
}

/// Starts the reconcile loop; the handle finishes after the shutdown clean-up.
pub(crate) fn spawn(
    registry: Arc<Registry>,
    me: Identity,
    shutdown: Shutdown,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let lease_name = identity::lease_name(&me.hostname);
        let holder = format!("{lease_name}_{}", crate::registry::object::new_uid());
        let mut ticks = 0u64;
        loop {
            if let Err(e) = renew_master_lease(&registry, &me).await {
                tracing::warn!(error = %e, ip = %me.ip, "renewing the master lease");
            }
            if let Err(e) = reconcile_endpoints(&registry, me.port).await {
                tracing::warn!(error = %e, "reconciling the kubernetes service endpoints");
            }
            if let Err(e) = renew_identity(&registry, &lease_name, &holder, &me.hostname).await {
                tracing::warn!(error = %e, lease = %lease_name, "renewing the apiserver identity lease");
            }
            if ticks.is_multiple_of(IDENTITY_GC_EVERY)
                && let Err(e) = collect_identities(&registry).await
            {
                tracing::warn!(error = %e, "collecting expired apiserver identity leases");
            }
            ticks += 1;
            tokio::select! {
                _ = shutdown.wait() => break,
                _ = tokio::time::sleep(RECONCILE_INTERVAL) => {}
            }
        }
        let key = master_lease_key(&me);
        match registry.store.delete(&key, None).await {
            Ok(_) | Err(StoreError::NotFound { .. }) => {}
            Err(e) => tracing::warn!(error = %e, "withdrawing the master lease"),
        }
        if let Err(e) = reconcile_endpoints(&registry, me.port).await {
            tracing::warn!(error = %e, "removing this apiserver from the kubernetes service endpoints");
        }
    })
}

fn master_lease_key(me: &Identity) -> String {
    format!("{MASTER_LEASES_PREFIX}{}", me.ip)
}

fn now_unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

async fn renew_master_lease(registry: &Registry, me: &Identity) -> Result<(), StoreError> {
    let key = master_lease_key(me);
    let lease = MasterLease {
        ip: me.ip.to_string(),
        port: me.port,
        expires_unix_ms: now_unix_ms() + MASTER_LEASE_TTL.as_millis() as u64,
    };
    let body = Bytes::from(serde_json::to_vec(&lease).unwrap_or_default());
    match registry.store.get(&key, None).await? {
        Some(kv) => registry
            .store
            .update(&key, body, kv.mod_revision)
            .await
            .map(|_| ()),
        None => registry.store.create(&key, body).await.map(|_| ()),
    }
}

/// Reads the master leases, drops expired ones, and writes the live set into the `kubernetes`
/// Endpoints and EndpointSlice. With no live lease at all (the last apiserver leaving) the
/// objects are left as they are, as upstream does not empty them either.
async fn reconcile_endpoints(registry: &Registry, port: u16) -> Result<(), ApiError> {
    let page = registry
        .store
        .list(MASTER_LEASES_PREFIX, ListOptions::default())
        .await
        .map_err(store_error)?;
    let leases: Vec<(String, Vec<u8>)> = page
        .items
        .iter()
        .map(|kv| (kv.key.clone(), kv.value.to_vec()))
        .collect();
    let plan = endpoints::plan_leases(&leases, now_unix_ms());
    for key in &plan.expired {
        let expected = page
            .items
            .iter()
            .find(|kv| &kv.key == key)
            .map(|kv| kv.mod_revision);
        match registry.store.delete(key, expected).await {
            Ok(_) | Err(StoreError::NotFound { .. }) | Err(StoreError::Conflict { .. }) => {}
            Err(e) => return Err(store_error(e)),
        }
    }
    if plan.ips.is_empty() {
        return Ok(());
    }
    sync(
        registry,
        ("", "v1", "endpoints"),
        endpoints::desired_endpoints(&plan.ips, port),
    )
    .await?;
    sync(
        registry,
        ("discovery.k8s.io", "v1", "endpointslices"),
        endpoints::desired_slice(&plan.ips, port),
    )
    .await
}

/// Creates `desired` in `default`, or updates the stored object when its owned fields differ;
/// a lost race with another apiserver is left to the next tick.
async fn sync(
    registry: &Registry,
    (group, version, plural): (&str, &str, &str),
    desired: Value,
) -> Result<(), ApiError> {
    let res = registry
        .get_resource(group, version, plural)
        .ok_or_else(|| ApiError::internal(format!("{plural} are not served")))?;
    let opts = WriteOptions::by(SERVER_MANAGER);
    let result = match registry.get(&res, Some("default"), "kubernetes").await {
        Ok(current) => {
            let current = current.value();
            if endpoints::up_to_date(&current, &desired) {
                return Ok(());
            }
            let body = endpoints::merged(&current, &desired);
            registry
                .update(&res, Some("default"), "kubernetes", body, false, &opts)
                .await
                .map(|_| ())
        }
        Err(e) if e.code() == 404 => registry
            .create(&res, Some("default"), desired, &opts)
            .await
            .map(|_| ()),
        Err(e) => Err(e),
    };
    match result {
        Err(e) if e.code() == 409 => Ok(()),
        other => other,
    }
}

async fn renew_identity(
    registry: &Registry,
    name: &str,
    holder: &str,
    hostname: &str,
) -> Result<(), ApiError> {
    let res = registry
        .get_resource("coordination.k8s.io", "v1", "leases")
        .ok_or_else(|| ApiError::internal("leases are not served"))?;
    let now = crate::registry::object::now_micro_time();
    let desired = identity::desired_lease(name, holder, hostname, &now);
    let opts = WriteOptions::by(SERVER_MANAGER);
    let result = match registry.get(&res, Some("kube-system"), name).await {
        Ok(current) => {
            let mut body = current.value();
            body["spec"] = desired["spec"].clone();
            body["metadata"]["labels"] = desired["metadata"]["labels"].clone();
            registry
                .update(&res, Some("kube-system"), name, body, false, &opts)
                .await
                .map(|_| ())
        }
        Err(e) if e.code() == 404 => registry
            .create(&res, Some("kube-system"), desired, &opts)
            .await
            .map(|_| ()),
        Err(e) => Err(e),
    };
    match result {
        Err(e) if e.code() == 409 => Ok(()),
        other => other,
    }
}

async fn collect_identities(registry: &Registry) -> Result<(), ApiError> {
    let res = registry
        .get_resource("coordination.k8s.io", "v1", "leases")
        .ok_or_else(|| ApiError::internal("leases are not served"))?;
    let prefix = res.info.storage_list_prefix(Some("kube-system"));
    let page = registry
        .store
        .list(&prefix, ListOptions::default())
        .await
        .map_err(store_error)?;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    for kv in page.items {
        let Ok(lease) = serde_json::from_slice::<Value>(&kv.value) else {
            continue;
        };
        if !identity::expired(&lease, now) {
            continue;
        }
        let Some(name) = lease.pointer("/metadata/name").and_then(Value::as_str) else {
            continue;
        };
        let opts = DeleteOptions {
            precondition_resource_version: Some(kv.mod_revision.to_string()),
            ..Default::default()
        };
        match registry.delete(&res, Some("kube-system"), name, &opts).await {
            Ok(_) => tracing::info!(lease = name, "deleted an expired apiserver identity lease"),
            Err(e) if matches!(e.code(), 404 | 409) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
