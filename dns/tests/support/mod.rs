//! Test helpers: a DNS client over UDP/TCP (hickory-proto messages), a fake upstream resolver on
//! loopback, and a tiny HTTP GET for the health endpoints.

#![allow(dead_code, unreachable_pub)]

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use hickory_proto::op::{Edns, Message, Query, ResponseCode};
use hickory_proto::rr::rdata::A;
use hickory_proto::rr::{Name, RData, Record, RecordType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};

/// The address the fake upstream answers every A query with (TEST-NET-1).
pub const UPSTREAM_ANSWER: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);

pub fn query_message(name: &str, rtype: RecordType, edns: bool) -> Message {
    let mut m = Message::query();
    m.metadata.recursion_desired = true;
    m.add_query(Query::query(Name::from_ascii(name).expect("name"), rtype));
    if edns {
        let mut e = Edns::new();
        e.set_max_payload(1232);
        m.set_edns(e);
    }
    m
}

pub async fn udp(server: SocketAddr, name: &str, rtype: RecordType) -> Message {
    udp_message(server, &query_message(name, rtype, false)).await
}

pub async fn udp_message(server: SocketAddr, query: &Message) -> Message {
    let socket = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    socket
        .send_to(&query.to_vec().expect("encode"), server)
        .await
        .expect("send");
    let mut buf = vec![0u8; 65535];
    let (n, _) = tokio::time::timeout(std::time::Duration::from_secs(5), socket.recv_from(&mut buf))
        .await
        .expect("UDP answer in time")
        .expect("recv");
    let answer = Message::from_vec(&buf[..n]).expect("decode");
    assert_eq!(answer.metadata.id, query.metadata.id);
    answer
}

pub async fn tcp(server: SocketAddr, name: &str, rtype: RecordType) -> Message {
    let query = query_message(name, rtype, false);
    let mut stream = TcpStream::connect(server).await.expect("connect");
    let bytes = query.to_vec().expect("encode");
    let mut out = (bytes.len() as u16).to_be_bytes().to_vec();
    out.extend_from_slice(&bytes);
    stream.write_all(&out).await.expect("write");
    let mut len = [0u8; 2];
    stream.read_exact(&mut len).await.expect("read len");
    let mut buf = vec![0u8; usize::from(u16::from_be_bytes(len))];
    stream.read_exact(&mut buf).await.expect("read");
    let answer = Message::from_vec(&buf).expect("decode");
    assert_eq!(answer.metadata.id, query.metadata.id);
    answer
}

/// The A and AAAA addresses in the answer section, as strings, sorted.
pub fn addresses(m: &Message) -> Vec<String> {
    let mut out: Vec<String> = m
        .answers
        .iter()
        .filter_map(|r| match &r.data {
            RData::A(a) => Some(a.0.to_string()),
            RData::AAAA(a) => Some(a.0.to_string()),
            _ => None,
        })
        .collect();
    out.sort();
    out
}

pub fn rcode(m: &Message) -> ResponseCode {
    m.metadata.response_code
}

/// A resolver on 127.0.0.1 (UDP and TCP, one port) that answers A queries for any name with
/// [`UPSTREAM_ANSWER`] and counts the queries it saw.
#[derive(Debug)]
pub struct FakeUpstream {
    pub addr: SocketAddr,
    pub queries: Arc<AtomicUsize>,
}

impl FakeUpstream {
    pub async fn start() -> FakeUpstream {
        let udp = UdpSocket::bind("127.0.0.1:0").await.expect("bind upstream");
        let addr = udp.local_addr().expect("addr");
        let tcp = TcpListener::bind(addr).await.expect("bind upstream tcp");
        let queries = Arc::new(AtomicUsize::new(0));
        let counter = queries.clone();
        tokio::spawn(async move {
            let mut buf = vec![0u8; 65535];
            while let Ok((n, peer)) = udp.recv_from(&mut buf).await {
                counter.fetch_add(1, Ordering::SeqCst);
                if let Some(answer) = fake_answer(&buf[..n]) {
                    let _ = udp.send_to(&answer, peer).await;
                }
            }
        });
        let counter = queries.clone();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = tcp.accept().await {
                let counter = counter.clone();
                tokio::spawn(async move {
                    let mut len = [0u8; 2];
                    while stream.read_exact(&mut len).await.is_ok() {
                        let mut buf = vec![0u8; usize::from(u16::from_be_bytes(len))];
                        if stream.read_exact(&mut buf).await.is_err() {
                            return;
                        }
                        counter.fetch_add(1, Ordering::SeqCst);
                        let Some(answer) = fake_answer(&buf) else { return };
                        let mut out = (answer.len() as u16).to_be_bytes().to_vec();
                        out.extend_from_slice(&answer);
                        if stream.write_all(&out).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        FakeUpstream { addr, queries }
    }
}

fn fake_answer(bytes: &[u8]) -> Option<Vec<u8>> {
    let query = Message::from_vec(bytes).ok()?;
    let mut answer = Message::response(query.metadata.id, query.metadata.op_code);
    answer.metadata.recursion_desired = query.metadata.recursion_desired;
    answer.metadata.recursion_available = true;
    answer.add_queries(query.queries.iter().cloned());
    let q = query.queries.first()?;
    if q.name().to_ascii().starts_with("nxdomain.") {
        answer.metadata.response_code = ResponseCode::NXDomain;
    } else if q.query_type() == RecordType::A {
        answer.add_answer(Record::from_rdata(
            q.name().clone(),
            60,
            RData::A(A(UPSTREAM_ANSWER)),
        ));
    }
    answer.to_vec().ok()
}

/// `GET path` over HTTP/1.0: (status, body).
pub async fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).await.expect("connect http");
    stream
        .write_all(format!("GET {path} HTTP/1.0\r\nHost: x\r\n\r\n").as_bytes())
        .await
        .expect("write");
    let mut text = String::new();
    stream.read_to_string(&mut text).await.expect("read");
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}
