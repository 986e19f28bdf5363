//! Forwarding queries outside the cluster zone to the upstream resolvers, over the transport
//! the client used (a truncated UDP answer makes the client retry over TCP, also forwarded).

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

/// How long one upstream gets before the next is tried.
pub const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Debug, thiserror::Error)]
pub enum ForwardError {
    #[error("no upstream resolvers configured")]
    NoUpstreams,
    #[error("every upstream failed; last error: {0}")]
    AllFailed(String),
}

/// Send `query` (wire bytes) to each upstream in turn until one answers; the answer's bytes.
pub async fn forward(
    upstreams: &[SocketAddr],
    query: &[u8],
    tcp: bool,
) -> Result<(SocketAddr, Vec<u8>), ForwardError> {
    if upstreams.is_empty() {
        return Err(ForwardError::NoUpstreams);
    }
    let mut last = String::new();
    for upstream in upstreams {
        let attempt = if tcp {
            tokio::time::timeout(UPSTREAM_TIMEOUT, over_tcp(*upstream, query)).await
        } else {
            tokio::time::timeout(UPSTREAM_TIMEOUT, over_udp(*upstream, query)).await
        };
        match attempt {
            Ok(Ok(answer)) => return Ok((*upstream, answer)),
            Ok(Err(error)) => last = format!("{upstream}: {error}"),
            Err(_) => last = format!("{upstream}: timed out"),
        }
        tracing::debug!(%upstream, error = %last, "upstream failed; trying the next");
    }
    Err(ForwardError::AllFailed(last))
}

async fn over_udp(upstream: SocketAddr, query: &[u8]) -> std::io::Result<Vec<u8>> {
    let bind: SocketAddr = if upstream.is_ipv4() {
        ([0, 0, 0, 0], 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let socket = UdpSocket::bind(bind).await?;
    socket.connect(upstream).await?;
    socket.send(query).await?;
    let mut buf = vec![0u8; 65535];
    loop {
        let n = socket.recv(&mut buf).await?;
        // Ignore stray datagrams whose id is not ours (a fresh socket per query makes these rare).
        if n >= 2 && query.len() >= 2 && buf[..2] == query[..2] {
            buf.truncate(n);
            return Ok(buf);
        }
    }
}

async fn over_tcp(upstream: SocketAddr, query: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut stream = TcpStream::connect(upstream).await?;
    let len = u16::try_from(query.len())
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidInput, "query too large"))?;
    let mut out = Vec::with_capacity(query.len() + 2);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(query);
    stream.write_all(&out).await?;
    let mut len = [0u8; 2];
    stream.read_exact(&mut len).await?;
    let mut buf = vec![0u8; usize::from(u16::from_be_bytes(len))];
    stream.read_exact(&mut buf).await?;
    Ok(buf)
}
