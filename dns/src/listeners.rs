//! DNS over UDP and TCP on one address.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rudder_component::shutdown::Shutdown;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};

use crate::handler::Handler;

/// A TCP connection idle this long is closed (CoreDNS's default read timeout is similar).
const TCP_IDLE: Duration = Duration::from_secs(10);

/// Answer datagrams until shutdown; each query is handled on its own task so that a slow
/// upstream does not hold up cluster answers.
pub async fn serve_udp(socket: Arc<UdpSocket>, handler: Arc<Handler>, shutdown: Shutdown) {
    let mut buf = vec![0u8; 65535];
    loop {
        let (n, peer) = tokio::select! {
            received = socket.recv_from(&mut buf) => match received {
                Ok(r) => r,
                Err(error) => {
                    // ICMP errors from earlier sends surface here on some systems; keep serving.
                    tracing::debug!(%error, "UDP receive failed");
                    continue;
                }
            },
            _ = shutdown.wait() => return,
        };
        let query = buf[..n].to_vec();
        let (socket, handler) = (socket.clone(), handler.clone());
        tokio::spawn(async move {
            if let Some(answer) = handler.handle(&query, false, peer).await
                && let Err(error) = socket.send_to(&answer, peer).await
            {
                tracing::debug!(%peer, %error, "UDP send failed");
            }
        });
    }
}

/// Accept TCP connections until shutdown; each carries length-prefixed queries in turn.
pub async fn serve_tcp(listener: TcpListener, handler: Arc<Handler>, shutdown: Shutdown) {
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(error) => {
                    tracing::warn!(%error, "TCP accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = shutdown.wait() => return,
        };
        let (handler, shutdown) = (handler.clone(), shutdown.clone());
        tokio::spawn(async move {
            tokio::select! {
                result = connection(stream, peer, &handler) => {
                    if let Err(error) = result {
                        tracing::debug!(%peer, %error, "TCP connection ended");
                    }
                }
                _ = shutdown.wait() => {}
            }
        });
    }
}

async fn connection(mut stream: TcpStream, peer: SocketAddr, handler: &Handler) -> std::io::Result<()> {
    loop {
        let mut len = [0u8; 2];
        match tokio::time::timeout(TCP_IDLE, stream.read_exact(&mut len)).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(()),
            Ok(Err(e)) => return Err(e),
            Err(_) => return Ok(()),
        }
        let mut query = vec![0u8; usize::from(u16::from_be_bytes(len))];
        tokio::time::timeout(TCP_IDLE, stream.read_exact(&mut query))
            .await
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "slow query"))??;
        let Some(answer) = handler.handle(&query, true, peer).await else {
            continue;
        };
        let Ok(len) = u16::try_from(answer.len()) else {
            continue;
        };
        let mut out = Vec::with_capacity(answer.len() + 2);
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(&answer);
        stream.write_all(&out).await?;
    }
}
