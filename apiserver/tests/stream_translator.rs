//! The stream translator and the port-forward tunnel against a fake kubelet that speaks
//! SPDY/3.1 as the kubelet's streaming server does (its own framing code here, zlib headers
//! with the SPDY dictionary): a WebSocket v5 client execs through the apiserver and sees
//! stdout, stderr, the exit-code Status, stdin close and resize arrive on the kubelet side.
//! Also pods/proxy and services/proxy to a plain HTTP server on loopback.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress};
use futures::{SinkExt, StreamExt};
use hyper_util::rt::TokioIo;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{Api, Patch, PostParams};
use rudder_component::shutdown::{Shutdown, ShutdownTrigger};
use rudder_testkit::TestApiServer;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use serde_json::{Value, json};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

// ---- the fake kubelet's SPDY side ----

fn spdy_dictionary() -> Vec<u8> {
    let words = "options head post put delete trace accept accept-charset accept-encoding accept-language \
        accept-ranges age allow authorization cache-control connection content-base content-encoding \
        content-language content-length content-location content-md5 content-range content-type date etag \
        expect expires from host if-match if-modified-since if-none-match if-range if-unmodified-since \
        last-modified location max-forwards pragma proxy-authenticate proxy-authorization range referer \
        retry-after server te trailer transfer-encoding upgrade user-agent vary via warning www-authenticate \
        method get status";
    let mut d = Vec::new();
    let mut push = |w: &str| {
        d.extend_from_slice(&(w.len() as u32).to_be_bytes());
        d.extend_from_slice(w.as_bytes());
    };
    for w in words.split_whitespace() {
        push(w);
    }
    for w in [
        "200 OK",
        "version",
        "HTTP/1.1",
        "url",
        "public",
        "set-cookie",
        "keep-alive",
        "origin",
    ] {
        push(w);
    }
    d.extend_from_slice(
        b"100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505\
203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request401 Unauthorized\
403 Forbidden404 Not Found500 Internal Server Error501 Not Implemented503 Service UnavailableJan Feb \
Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMTchunked,\
text/html,image/png,image/jpg,image/gif,application/xml,application/xhtml+xml,text/plain,\
text/javascript,publicprivatemax-age=gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0.",
    );
    assert_eq!(d.len(), 1423);
    d
}

enum In {
    Syn { id: u32, stream_type: String },
    Data { id: u32, fin: bool, data: Vec<u8> },
    Other,
}

struct SpdyServer {
    inflate: Decompress,
    deflate: Compress,
    dict: Vec<u8>,
}

impl SpdyServer {
    fn new() -> SpdyServer {
        let dict = spdy_dictionary();
        let mut deflate = Compress::new(Compression::default(), true);
        deflate.set_dictionary(&dict).expect("dictionary");
        SpdyServer {
            inflate: Decompress::new(true),
            deflate,
            dict,
        }
    }

    async fn read<R: AsyncRead + Unpin>(&mut self, r: &mut R) -> Option<In> {
        let mut head = [0u8; 8];
        r.read_exact(&mut head).await.ok()?;
        let first = u32::from_be_bytes([head[0], head[1], head[2], head[3]]);
        let flags = head[4];
        let len = u32::from_be_bytes([0, head[5], head[6], head[7]]) as usize;
        let mut payload = vec![0u8; len];
        r.read_exact(&mut payload).await.ok()?;
        if first & 0x8000_0000 == 0 {
            return Some(In::Data {
                id: first & 0x7fff_ffff,
                fin: flags & 1 == 1,
                data: payload,
            });
        }
        assert_eq!(first >> 16, 0x8003, "SPDY version 3 control frame");
        if first & 0xffff != 1 {
            return Some(In::Other);
        }
        let id = u32::from_be_bytes([payload[0], payload[1], payload[2], payload[3]]) & 0x7fff_ffff;
        let mut out = Vec::with_capacity(4096);
        let input = &payload[10..];
        let start = self.inflate.total_in();
        loop {
            // zlib consumes the header and dictionary id before asking for the dictionary.
            let consumed = (self.inflate.total_in() - start) as usize;
            match self
                .inflate
                .decompress_vec(&input[consumed..], &mut out, FlushDecompress::Sync)
            {
                Ok(_) => break,
                Err(e) if e.needs_dictionary().is_some() => {
                    self.inflate.set_dictionary(&self.dict).expect("dictionary");
                }
                Err(e) => panic!("inflate: {e}"),
            }
        }
        // count, then (name, value) pairs: find streamtype.
        let mut p = &out[4..];
        let mut take = || {
            let n = u32::from_be_bytes([p[0], p[1], p[2], p[3]]) as usize;
            let s = String::from_utf8_lossy(&p[4..4 + n]).into_owned();
            p = &p[4 + n..];
            s
        };
        let (name, value) = (take(), take());
        assert_eq!(name, "streamtype");
        Some(In::Syn {
            id,
            stream_type: value,
        })
    }

    fn syn_reply(&mut self, id: u32) -> Vec<u8> {
        let mut block = Vec::with_capacity(64);
        self.deflate
            .compress_vec(&0u32.to_be_bytes(), &mut block, FlushCompress::Sync)
            .expect("deflate");
        let mut f = vec![0x80, 0x03, 0x00, 0x02];
        f.extend_from_slice(&((4 + block.len()) as u32).to_be_bytes());
        f.extend_from_slice(&id.to_be_bytes());
        f.extend_from_slice(&block);
        f
    }
}

fn data(id: u32, fin: bool, bytes: &[u8]) -> Vec<u8> {
    let mut f = id.to_be_bytes().to_vec();
    f.extend_from_slice(&((u32::from(fin) << 24) | bytes.len() as u32).to_be_bytes());
    f.extend_from_slice(bytes);
    f
}

/// One exec session: waits for the expected streams, then uppercases stdin onto stdout until
/// stdin closes (or echoes resize events), writes a line to stderr and ends with exit code 3.
async fn exec_session(io: TokioIo<hyper::upgrade::Upgraded>, expected: Vec<&'static str>) {
    let (mut r, mut w) = tokio::io::split(io);
    let mut spdy = SpdyServer::new();
    let mut ids = std::collections::HashMap::new();
    while ids.len() < expected.len() {
        match spdy.read(&mut r).await {
            Some(In::Syn { id, stream_type }) => {
                w.write_all(&spdy.syn_reply(id)).await.expect("reply");
                ids.insert(stream_type, id);
            }
            Some(_) => {}
            None => return,
        }
    }
    let mut keys: Vec<&String> = ids.keys().collect();
    keys.sort();
    let mut want = expected.clone();
    want.sort();
    assert_eq!(
        keys, want,
        "the translator opened the streams the kubelet expects"
    );
    let out = ids.get("stdout").copied();
    if let Some(stdin) = ids.get("stdin").copied() {
        loop {
            match spdy.read(&mut r).await {
                Some(In::Data { id, fin, data: d }) if id == stdin => {
                    if let Some(o) = out
                        && !d.is_empty()
                    {
                        w.write_all(&data(o, false, &d.to_ascii_uppercase()))
                            .await
                            .expect("stdout");
                    }
                    if fin {
                        break;
                    }
                }
                Some(In::Data { id, data: d, .. }) if Some(&id) == ids.get("resize") => {
                    let size: Value = serde_json::from_slice(&d).expect("resize JSON");
                    let line = format!("resize {}x{}\n", size["Width"], size["Height"]);
                    w.write_all(&data(out.expect("stdout"), false, line.as_bytes()))
                        .await
                        .expect("stdout");
                }
                Some(_) => {}
                None => return,
            }
        }
    }
    if let Some(e) = ids.get("stderr").copied() {
        w.write_all(&data(e, false, b"to-err\n")).await.expect("stderr");
    }
    let status = json!({"metadata": {}, "status": "Failure", "reason": "NonZeroExitCode",
        "message": "command terminated with non-zero exit code: exit status 3",
        "details": {"causes": [{"reason": "ExitCode", "message": "3"}]}});
    let err = ids["error"];
    w.write_all(&data(err, false, status.to_string().as_bytes()))
        .await
        .expect("status");
    for id in ids.values() {
        w.write_all(&data(*id, true, b"")).await.expect("fin");
    }
    // GOAWAY, then the kubelet closes the connection.
    let mut goaway = vec![0x80, 0x03, 0x00, 0x07, 0, 0, 0, 8];
    goaway.extend_from_slice(&[0; 8]);
    w.write_all(&goaway).await.expect("goaway");
    let _ = w.shutdown().await;
}

async fn fake_kubelet(mut req: Request) -> Response {
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or_default().to_string();
    let spdy = req
        .headers()
        .get(header::UPGRADE)
        .is_some_and(|u| u.as_bytes().eq_ignore_ascii_case(b"SPDY/3.1"));
    if path.starts_with("/exec/default/refused/") || !spdy {
        return (StatusCode::BAD_REQUEST, "this kubelet refuses").into_response();
    }
    assert_eq!(req.method(), "POST");
    let protocols: Vec<String> = req
        .headers()
        .get_all("x-stream-protocol-version")
        .iter()
        .map(|v| v.to_str().unwrap_or_default().to_string())
        .collect();
    let on = hyper::upgrade::on(&mut req);
    let chosen = if path.starts_with("/portForward/") {
        assert_eq!(protocols, ["portforward.k8s.io"]);
        tokio::spawn(async move {
            if let Ok(io) = on.await {
                let (mut r, mut w) = tokio::io::split(TokioIo::new(io));
                let _ = tokio::io::copy(&mut r, &mut w).await;
            }
        });
        "portforward.k8s.io"
    } else {
        assert_eq!(protocols, ["v4.channel.k8s.io"]);
        let has = |k: &str| query.split('&').any(|p| p == format!("{k}=1"));
        let mut expected = vec!["error"];
        for (param, stream) in [("input", "stdin"), ("output", "stdout"), ("error", "stderr")] {
            if has(param) {
                expected.push(stream);
            }
        }
        if has("tty") {
            expected.retain(|s| *s != "stderr");
            expected.push("resize");
        }
        tokio::spawn(async move {
            if let Ok(io) = on.await {
                exec_session(TokioIo::new(io), expected).await;
            }
        });
        "v4.channel.k8s.io"
    };
    Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header(header::CONNECTION, "Upgrade")
        .header(header::UPGRADE, "SPDY/3.1")
        .header("x-stream-protocol-version", chosen)
        .body(Body::empty())
        .unwrap_or_default()
}

struct Kubelet {
    port: u16,
    _trigger: ShutdownTrigger,
}

async fn start_kubelet() -> Kubelet {
    let authority = rudder_apiserver::pki::CertificateAuthority::generate("fake-kubelet-ca").expect("CA");
    let (cert, key) =
        rudder_apiserver::pki::sign_serving_cert(&authority, "kubelet", &["127.0.0.1".to_string()])
            .expect("cert");
    let tls = rudder_component::tls::server_config_from_pem(cert.as_bytes(), key.as_bytes(), None)
        .expect("server config");
    let app = Router::new().fallback(fake_kubelet);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let (trigger, shutdown) = Shutdown::new();
    tokio::spawn(rudder_component::serve::serve(listener, tls, app, shutdown));
    Kubelet {
        port,
        _trigger: trigger,
    }
}

// ---- the client side ----

async fn connect(server: &TestApiServer) -> tokio_rustls::client::TlsStream<tokio::net::TcpStream> {
    let pki = server.cert_dir();
    let ca = rudder_apiserver::pki::CertificateAuthority::load(&pki.join("ca.crt"), &pki.join("ca.key"))
        .expect("load CA");
    let (cert, key) =
        rudder_apiserver::pki::sign_client_cert(&ca, "kubernetes-admin", &["system:masters"]).expect("cert");
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(ca.cert_pem().as_bytes()) {
        roots.add(c.expect("CA pem")).expect("add root");
    }
    let chain: Vec<_> = CertificateDer::pem_slice_iter(cert.as_bytes())
        .collect::<Result<_, _>>()
        .expect("chain");
    let key = PrivateKeyDer::from_pem_slice(key.as_bytes()).expect("key");
    let mut config = rustls::ClientConfig::builder_with_provider(rudder_component::tls::crypto_provider())
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)
        .expect("client auth");
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let tcp = tokio::net::TcpStream::connect(server.addr)
        .await
        .expect("connect");
    tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from("127.0.0.1").expect("name"), tcp)
        .await
        .expect("TLS")
}

type Ws = tokio_tungstenite::WebSocketStream<tokio_rustls::client::TlsStream<tokio::net::TcpStream>>;

async fn websocket(server: &TestApiServer, path: &str, protocol: &str) -> Result<(Ws, Option<String>), u16> {
    let mut req = format!("wss://127.0.0.1{path}")
        .into_client_request()
        .expect("request");
    req.headers_mut()
        .insert("sec-websocket-protocol", protocol.parse().expect("protocol"));
    match tokio_tungstenite::client_async(req, connect(server).await).await {
        Ok((ws, resp)) => {
            let chosen = resp
                .headers()
                .get("sec-websocket-protocol")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            Ok((ws, chosen))
        }
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => Err(resp.status().as_u16()),
        Err(e) => panic!("websocket handshake: {e}"),
    }
}

/// Everything the server sends until it closes: bytes per channel.
async fn drain(ws: &mut Ws) -> std::collections::BTreeMap<u8, Vec<u8>> {
    let mut by_channel = std::collections::BTreeMap::new();
    loop {
        let next = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("the server finishes in time");
        match next {
            Some(Ok(Message::Binary(b))) => {
                let (ch, rest) = b.split_first().expect("a channel byte");
                by_channel
                    .entry(*ch)
                    .or_insert_with(Vec::new)
                    .extend_from_slice(rest);
            }
            Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
            Some(Ok(_)) => {}
        }
    }
    by_channel
}

async fn setup(server: &TestApiServer, kubelet_port: u16) {
    let nodes: Api<Node> = Api::all(server.client.clone());
    let node: Node = serde_json::from_value(json!({"metadata": {"name": "n1"}})).expect("node");
    nodes
        .create(&PostParams::default(), &node)
        .await
        .expect("create node");
    let status = json!({"status": {
        "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": kubelet_port}}}});
    nodes
        .patch_status("n1", &Default::default(), &Patch::Merge(status))
        .await
        .expect("node status");
    let pods: Api<Pod> = Api::namespaced(server.client.clone(), "default");
    for name in ["p1", "refused"] {
        let pod: Pod = serde_json::from_value(json!({"metadata": {"name": name},
            "spec": {"nodeName": "n1", "containers": [{"name": "a", "image": "x"}]}}))
        .expect("pod");
        pods.create(&PostParams::default(), &pod)
            .await
            .expect("create pod");
    }
}

#[tokio::test]
async fn websocket_v5_exec_is_translated_to_spdy() {
    let server = TestApiServer::start().await;
    let kubelet = start_kubelet().await;
    setup(&server, kubelet.port).await;
    let exec = "/api/v1/namespaces/default/pods/p1/exec?command=cat&stdin=true&stdout=true&stderr=true";
    let (mut ws, chosen) = websocket(&server, exec, "v5.channel.k8s.io").await.expect("101");
    assert_eq!(chosen.as_deref(), Some("v5.channel.k8s.io"));
    ws.send(Message::Binary(b"\x00hello ".to_vec().into()))
        .await
        .expect("stdin");
    ws.send(Message::Binary(b"\x00world".to_vec().into()))
        .await
        .expect("stdin");
    // v5's close of stdin: the kubelet side sees FIN on its stdin stream and ends the command.
    ws.send(Message::Binary(vec![255, 0].into()))
        .await
        .expect("close stdin");
    let got = drain(&mut ws).await;
    assert_eq!(String::from_utf8_lossy(&got[&1]), "HELLO WORLD");
    assert_eq!(String::from_utf8_lossy(&got[&2]), "to-err\n");
    let status: Value = serde_json::from_slice(&got[&3]).expect("status JSON");
    assert_eq!(status["reason"], "NonZeroExitCode", "{status}");
    assert_eq!(status["details"]["causes"][0]["message"], "3");

    // A terminal: stderr merged, resize events reach the kubelet's resize stream.
    let tty =
        "/api/v1/namespaces/default/pods/p1/exec?command=sh&stdin=true&stdout=true&stderr=true&tty=true";
    let (mut ws, _) = websocket(&server, tty, "v5.channel.k8s.io").await.expect("101");
    ws.send(Message::Binary(
        br#"{"Width":120,"Height":40}"#
            .iter()
            .fold(vec![4u8], |mut v, b| {
                v.push(*b);
                v
            })
            .into(),
    ))
    .await
    .expect("resize");
    ws.send(Message::Binary(b"\x00x".to_vec().into()))
        .await
        .expect("stdin");
    ws.send(Message::Binary(vec![255, 0].into()))
        .await
        .expect("close stdin");
    let got = drain(&mut ws).await;
    assert_eq!(String::from_utf8_lossy(&got[&1]), "resize 120x40\nX");
    assert!(
        got.get(&2).is_none_or(|e| e.is_empty()),
        "no stderr with a terminal"
    );

    // Output only (no stdin stream): the command ends by itself.
    let out_only = "/api/v1/namespaces/default/pods/p1/exec?command=true&stdout=true&stderr=true";
    let (mut ws, _) = websocket(&server, out_only, "v5.channel.k8s.io")
        .await
        .expect("101");
    let got = drain(&mut ws).await;
    assert_eq!(String::from_utf8_lossy(&got[&2]), "to-err\n");
    assert!(got.contains_key(&3));
}

#[tokio::test]
async fn refusals_and_pass_through() {
    let server = TestApiServer::start().await;
    let kubelet = start_kubelet().await;
    setup(&server, kubelet.port).await;
    // The kubelet refuses the SPDY upgrade: the WebSocket is up already, so the refusal comes
    // as a Failure Status on the error channel (upstream's translator does the same).
    let exec = "/api/v1/namespaces/default/pods/refused/exec?command=true&stdout=true";
    let (mut ws, _) = websocket(&server, exec, "v5.channel.k8s.io").await.expect("101");
    let got = drain(&mut ws).await;
    let status: Value = serde_json::from_slice(&got[&3]).expect("status");
    assert_eq!(status["status"], "Failure");
    assert!(
        status["message"]
            .as_str()
            .unwrap_or_default()
            .contains("this kubelet refuses"),
        "{status}"
    );
    // A WebSocket without v5 is not translated: it goes to the kubelet as it came, and this
    // kubelet (like containerd's streaming server) refuses it, so the client sees no 101.
    let v4 = "/api/v1/namespaces/default/pods/p1/exec?command=true&stdout=true";
    assert_eq!(websocket(&server, v4, "v4.channel.k8s.io").await.err(), Some(400));
    // An unknown pod: 404 before any upgrade.
    let missing = "/api/v1/namespaces/default/pods/nope/exec?command=true&stdout=true";
    assert_eq!(
        websocket(&server, missing, "v5.channel.k8s.io").await.err(),
        Some(404)
    );
}

#[tokio::test]
async fn port_forward_tunnels_spdy_through_websocket() {
    let server = TestApiServer::start().await;
    let kubelet = start_kubelet().await;
    setup(&server, kubelet.port).await;
    let pf = "/api/v1/namespaces/default/pods/p1/portforward?ports=8080";
    let (mut ws, chosen) = websocket(&server, pf, "SPDY/3.1+portforward.k8s.io")
        .await
        .expect("101");
    assert_eq!(chosen.as_deref(), Some("SPDY/3.1+portforward.k8s.io"));
    // The kubelet side echoes what it gets; bytes cross in both directions unchanged.
    ws.send(Message::Binary(
        b"\x80\x03\x00\x06\x00\x00\x00\x04\x00\x00\x00\x01"
            .to_vec()
            .into(),
    ))
    .await
    .expect("send");
    let mut echoed = Vec::new();
    while echoed.len() < 12 {
        match tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("echo in time")
        {
            Some(Ok(Message::Binary(b))) => echoed.extend_from_slice(&b),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(echoed, b"\x80\x03\x00\x06\x00\x00\x00\x04\x00\x00\x00\x01");
}
