//! The pod network: the kubelet writes a bridge + host-local CNI conflist for its pod CIDR
//! into the runtime's CNI config directory (containerd's CRI runs the plugins).

use std::path::{Path, PathBuf};

/// What goes into the conflist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BridgeNetwork {
    /// The conflist's network name.
    pub name: String,
    /// Linux bridge device, `cni0` by default.
    pub bridge: String,
    /// Pod CIDR, e.g. `10.244.1.0/24`.
    pub subnet: String,
    /// host-local IPAM state; None uses the plugin's default (/var/lib/cni/networks).
    pub ipam_data_dir: Option<PathBuf>,
}

/// The conflist JSON. loopback is not listed: containerd brings up `lo` in every pod itself.
/// `ipMasq` stays off so pod traffic is not NATed by the kubelet's network.
pub fn conflist(net: &BridgeNetwork) -> serde_json::Value {
    let mut ipam = serde_json::json!({
        "type": "host-local",
        "ranges": [[{ "subnet": net.subnet }]],
        "routes": [{ "dst": "0.0.0.0/0" }],
    });
    if let Some(dir) = &net.ipam_data_dir {
        ipam["dataDir"] = dir.display().to_string().into();
    }
    serde_json::json!({
        "cniVersion": "1.0.0",
        "name": net.name,
        "plugins": [
            { "type": "bridge", "bridge": net.bridge, "isGateway": true, "ipMasq": false,
              "hairpinMode": true, "ipam": ipam },
            { "type": "portmap", "capabilities": { "portMappings": true }, "snat": true },
        ],
    })
}

/// Writes `<dir>/10-rudder.conflist` if its content differs (atomically: temp file + rename,
/// so containerd never reads a half-written file). Returns whether it changed.
pub fn write_conflist(dir: &Path, net: &BridgeNetwork) -> std::io::Result<bool> {
    std::fs::create_dir_all(dir)?;
    let path = dir.join("10-rudder.conflist");
    let body = serde_json::to_vec_pretty(&conflist(net)).map_err(std::io::Error::other)?;
    if std::fs::read(&path).ok().as_deref() == Some(body.as_slice()) {
        return Ok(false);
    }
    let tmp = dir.join(".10-rudder.conflist.tmp");
    std::fs::write(&tmp, &body)?;
    std::fs::rename(&tmp, &path)?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conflist_has_bridge_and_portmap_for_the_cidr() {
        let net = BridgeNetwork {
            name: "rudder".into(),
            bridge: "cni0".into(),
            subnet: "10.244.3.0/24".into(),
            ipam_data_dir: Some("/x/ipam".into()),
        };
        let v = conflist(&net);
        assert_eq!(v["plugins"][0]["type"], "bridge");
        assert_eq!(v["plugins"][0]["bridge"], "cni0");
        assert_eq!(v["plugins"][0]["ipam"]["ranges"][0][0]["subnet"], "10.244.3.0/24");
        assert_eq!(v["plugins"][0]["ipam"]["dataDir"], "/x/ipam");
        assert_eq!(v["plugins"][1]["type"], "portmap");
    }

    #[test]
    fn write_is_idempotent() {
        let dir = tempfile::tempdir().unwrap();
        let net = BridgeNetwork {
            name: "n".into(),
            bridge: "b".into(),
            subnet: "10.0.0.0/24".into(),
            ipam_data_dir: None,
        };
        assert!(write_conflist(dir.path(), &net).unwrap());
        assert!(!write_conflist(dir.path(), &net).unwrap());
    }
}
