//! systemd readiness notification (`sd_notify(3)`), so units can be `Type=notify`: systemd then
//! starts what depends on a component only once it serves, as upstream's kube-apiserver and
//! kubelet do (`systemd.SdNotify(…, "READY=1")`).

use std::io;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};

/// The variable systemd sets for `Type=notify` services.
const NOTIFY_SOCKET: &str = "NOTIFY_SOCKET";

/// Tells systemd the component is ready. Without `NOTIFY_SOCKET` (not started by systemd, or a
/// unit that is not `Type=notify`) it does nothing and returns `Ok(false)`.
pub fn notify_ready() -> io::Result<bool> {
    match std::env::var_os(NOTIFY_SOCKET) {
        Some(socket) => notify(&socket.to_string_lossy(), "READY=1\n").map(|()| true),
        None => Ok(false),
    }
}

/// [`notify_ready`], logging instead of failing: a lost notification makes systemd time the
/// start out, which is visible in `systemctl status`, and must not stop the component itself.
pub fn notify_ready_or_log() {
    match notify_ready() {
        Ok(true) => tracing::debug!("notified systemd: READY=1"),
        Ok(false) => {}
        Err(err) => tracing::error!(error = %err, "unable to send systemd the ready notification"),
    }
}

/// Sends `state` to the notification socket `socket`: a path, or an abstract socket name
/// written with a leading `@`.
pub fn notify(socket: &str, state: &str) -> io::Result<()> {
    let address = match socket.strip_prefix('@') {
        Some(name) => SocketAddr::from_abstract_name(name.as_bytes())?,
        None if socket.starts_with('/') => SocketAddr::from_pathname(socket)?,
        None => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{NOTIFY_SOCKET}={socket:?} is neither a path nor an abstract socket"),
            ));
        }
    };
    let sender = UnixDatagram::unbound()?;
    sender.send_to_addr(state.as_bytes(), &address)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_state_arrives_on_a_path_socket() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify");
        let receiver = UnixDatagram::bind(&path).unwrap();
        notify(path.to_str().unwrap(), "READY=1\n").unwrap();
        let mut buf = [0u8; 64];
        let n = receiver.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"READY=1\n");
    }

    #[test]
    fn the_state_arrives_on_an_abstract_socket() {
        let name = format!("rudder-notify-test-{}", std::process::id());
        let receiver =
            UnixDatagram::bind_addr(&SocketAddr::from_abstract_name(name.as_bytes()).unwrap()).unwrap();
        notify(&format!("@{name}"), "READY=1\n").unwrap();
        let mut buf = [0u8; 64];
        let n = receiver.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"READY=1\n");
    }

    #[test]
    fn a_relative_or_missing_socket_is_an_error() {
        assert!(notify("relative/path", "READY=1\n").is_err());
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nobody-listens");
        assert!(notify(missing.to_str().unwrap(), "READY=1\n").is_err());
    }
}
