//! SPDY/3.1 framing, the part the stream translator needs to talk to a kubelet as client-go's
//! SPDY executor does (draft-mbelshe-httpbis-spdy-00 §2, the framer in moby/spdystream): data
//! and control frames, and header blocks compressed by one zlib stream per direction primed
//! with the protocol's fixed dictionary.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress};
use tokio::io::{AsyncRead, AsyncReadExt};

/// `FLAG_FIN` on data, SYN_STREAM, SYN_REPLY and HEADERS frames.
pub(crate) const FLAG_FIN: u8 = 0x01;
const VERSION: u16 = 3;
const TYPE_SYN_STREAM: u16 = 1;
const TYPE_SYN_REPLY: u16 = 2;
const TYPE_RST_STREAM: u16 = 3;
const TYPE_SETTINGS: u16 = 4;
const TYPE_PING: u16 = 6;
const TYPE_GOAWAY: u16 = 7;
const TYPE_HEADERS: u16 = 8;
const TYPE_WINDOW_UPDATE: u16 = 9;
/// Largest header block we inflate; kubelets send a handful of short headers.
const MAX_HEADER_BLOCK: usize = 1 << 20;
/// Largest payload we send in one data frame (well under the 24-bit limit).
pub(crate) const MAX_DATA_CHUNK: usize = 32 * 1024;

/// One frame. Settings and window updates are read and ignored: the Go implementation
/// kubelets use has no flow control, and neither do we.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Frame {
    Data {
        stream: u32,
        flags: u8,
        data: Bytes,
    },
    SynStream {
        stream: u32,
        flags: u8,
        headers: Vec<(String, String)>,
    },
    SynReply {
        stream: u32,
        flags: u8,
        headers: Vec<(String, String)>,
    },
    RstStream {
        stream: u32,
        status: u32,
    },
    Settings,
    Ping {
        id: u32,
    },
    GoAway {
        last_good: u32,
        status: u32,
    },
    Headers {
        stream: u32,
        flags: u8,
        headers: Vec<(String, String)>,
    },
    WindowUpdate {
        stream: u32,
        delta: u32,
    },
    /// A control frame type SPDY/3.1 does not define; skipped.
    Unknown {
        kind: u16,
    },
}

/// Why a frame could not be read or written.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SpdyError {
    #[error("spdy connection: {0}")]
    Io(#[from] std::io::Error),
    #[error("spdy header compression: {0}")]
    Compression(String),
    #[error("malformed spdy frame: {0}")]
    Malformed(&'static str),
}

/// The SPDY/3 header dictionary (§2.6.10.1): length-prefixed words, then a run of text.
fn dictionary() -> &'static [u8] {
    static DICT: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    DICT.get_or_init(|| {
        const WORDS: [&str; 64] = [
            "options",
            "head",
            "post",
            "put",
            "delete",
            "trace",
            "accept",
            "accept-charset",
            "accept-encoding",
            "accept-language",
            "accept-ranges",
            "age",
            "allow",
            "authorization",
            "cache-control",
            "connection",
            "content-base",
            "content-encoding",
            "content-language",
            "content-length",
            "content-location",
            "content-md5",
            "content-range",
            "content-type",
            "date",
            "etag",
            "expect",
            "expires",
            "from",
            "host",
            "if-match",
            "if-modified-since",
            "if-none-match",
            "if-range",
            "if-unmodified-since",
            "last-modified",
            "location",
            "max-forwards",
            "pragma",
            "proxy-authenticate",
            "proxy-authorization",
            "range",
            "referer",
            "retry-after",
            "server",
            "te",
            "trailer",
            "transfer-encoding",
            "upgrade",
            "user-agent",
            "vary",
            "via",
            "warning",
            "www-authenticate",
            "method",
            "get",
            "status",
            "200 OK",
            "version",
            "HTTP/1.1",
            "url",
            "public",
            "set-cookie",
            "keep-alive",
        ];
        const TAIL: &str = concat!(
            "origin100101201202205206300302303304305306307402405406407408409410411412413414415416417",
            "502504505203 Non-Authoritative Information204 No Content301 Moved Permanently",
            "400 Bad Request401 Unauthorized403 Forbidden404 Not Found500 Internal Server Error",
            "501 Not Implemented503 Service UnavailableJan Feb Mar Apr May Jun Jul Aug Sept Oct ",
            "Nov Dec 00:00:00 Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMTchunked,text/html,image/png,",
            "image/jpg,image/gif,application/xml,application/xhtml+xml,text/plain,text/javascript,",
            "publicprivatemax-age=gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0.",
        );
        let mut d = Vec::with_capacity(1423);
        for w in WORDS {
            d.put_u32(w.len() as u32);
            d.extend_from_slice(w.as_bytes());
        }
        // "origin" is the last length-prefixed word; the run of text follows it directly.
        d.put_u32(6);
        d.extend_from_slice(TAIL.as_bytes());
        d
    })
}

/// The sending side's header compressor (one zlib stream for the connection's life).
pub(crate) struct HeaderEncoder(Compress);

impl std::fmt::Debug for HeaderEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HeaderEncoder")
    }
}

impl HeaderEncoder {
    pub(crate) fn new() -> Result<HeaderEncoder, SpdyError> {
        let mut c = Compress::new(Compression::default(), true);
        c.set_dictionary(dictionary())
            .map_err(|e| SpdyError::Compression(e.to_string()))?;
        Ok(HeaderEncoder(c))
    }

    fn encode(&mut self, headers: &[(String, String)]) -> Result<Vec<u8>, SpdyError> {
        let raw = header_block(headers);
        let start = self.0.total_in();
        let mut out = Vec::with_capacity(raw.len() + 64);
        loop {
            let consumed = (self.0.total_in() - start) as usize;
            self.0
                .compress_vec(&raw[consumed..], &mut out, FlushCompress::Sync)
                .map_err(|e| SpdyError::Compression(e.to_string()))?;
            let done = (self.0.total_in() - start) as usize == raw.len();
            if done && out.len() < out.capacity() {
                return Ok(out);
            }
            out.reserve(raw.len() + 64);
        }
    }
}

/// The receiving side's header decompressor.
pub(crate) struct HeaderDecoder(Decompress);

impl std::fmt::Debug for HeaderDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HeaderDecoder")
    }
}

impl Default for HeaderDecoder {
    fn default() -> Self {
        HeaderDecoder(Decompress::new(true))
    }
}

impl HeaderDecoder {
    fn decode(&mut self, input: &[u8]) -> Result<Vec<(String, String)>, SpdyError> {
        let start = self.0.total_in();
        let mut out = Vec::with_capacity(input.len() * 4 + 64);
        loop {
            let consumed = (self.0.total_in() - start) as usize;
            let produced = self.0.total_out();
            match self
                .0
                .decompress_vec(&input[consumed..], &mut out, FlushDecompress::Sync)
            {
                Ok(_) => {}
                Err(e) if e.needs_dictionary().is_some() => {
                    self.0
                        .set_dictionary(dictionary())
                        .map_err(|e| SpdyError::Compression(e.to_string()))?;
                    continue;
                }
                Err(e) => return Err(SpdyError::Compression(e.to_string())),
            }
            let all_in = (self.0.total_in() - start) as usize == input.len();
            if all_in && out.len() < out.capacity() {
                break;
            }
            if out.len() >= MAX_HEADER_BLOCK {
                return Err(SpdyError::Malformed("header block too large"));
            }
            if out.len() == out.capacity() {
                out.reserve(4096);
            } else if self.0.total_out() == produced && (self.0.total_in() - start) as usize == consumed {
                return Err(SpdyError::Compression("no progress inflating headers".into()));
            }
        }
        parse_header_block(&out)
    }
}

/// The uncompressed block: a count, then length-prefixed names (lowercase) and values.
fn header_block(headers: &[(String, String)]) -> Vec<u8> {
    let mut raw = Vec::new();
    raw.put_u32(headers.len() as u32);
    for (name, value) in headers {
        raw.put_u32(name.len() as u32);
        raw.extend_from_slice(name.to_ascii_lowercase().as_bytes());
        raw.put_u32(value.len() as u32);
        raw.extend_from_slice(value.as_bytes());
    }
    raw
}

fn parse_header_block(mut b: &[u8]) -> Result<Vec<(String, String)>, SpdyError> {
    let short = SpdyError::Malformed("short header block");
    let take = |b: &mut &[u8]| -> Option<String> {
        if b.remaining() < 4 {
            return None;
        }
        let n = b.get_u32() as usize;
        if b.remaining() < n {
            return None;
        }
        let s = String::from_utf8_lossy(&b[..n]).into_owned();
        b.advance(n);
        Some(s)
    };
    if b.remaining() < 4 {
        return Err(short);
    }
    let count = b.get_u32() as usize;
    let mut headers = Vec::with_capacity(count.min(64));
    for _ in 0..count {
        let name = take(&mut b).ok_or(SpdyError::Malformed("short header name"))?;
        let value = take(&mut b).ok_or(SpdyError::Malformed("short header value"))?;
        headers.push((name, value));
    }
    Ok(headers)
}

fn control(out: &mut BytesMut, kind: u16, flags: u8, payload: &[u8]) {
    out.put_u16(0x8000 | VERSION);
    out.put_u16(kind);
    out.put_u32(((flags as u32) << 24) | payload.len() as u32);
    out.extend_from_slice(payload);
}

/// Serializes one frame (header blocks through `enc`).
pub(crate) fn encode(frame: &Frame, enc: &mut HeaderEncoder) -> Result<Bytes, SpdyError> {
    let mut out = BytesMut::new();
    match frame {
        Frame::Data { stream, flags, data } => {
            if data.len() >= 1 << 24 {
                return Err(SpdyError::Malformed("data frame too large"));
            }
            out.put_u32(stream & 0x7fff_ffff);
            out.put_u32(((*flags as u32) << 24) | data.len() as u32);
            out.extend_from_slice(data);
        }
        Frame::SynStream {
            stream,
            flags,
            headers,
        } => {
            let mut p = Vec::new();
            p.put_u32(stream & 0x7fff_ffff);
            p.put_u32(0); // associated-to stream
            p.put_u16(0); // priority 0, slot 0
            p.extend_from_slice(&enc.encode(headers)?);
            control(&mut out, TYPE_SYN_STREAM, *flags, &p);
        }
        Frame::SynReply {
            stream,
            flags,
            headers,
        }
        | Frame::Headers {
            stream,
            flags,
            headers,
        } => {
            let kind = match frame {
                Frame::SynReply { .. } => TYPE_SYN_REPLY,
                _ => TYPE_HEADERS,
            };
            let mut p = Vec::new();
            p.put_u32(stream & 0x7fff_ffff);
            p.extend_from_slice(&enc.encode(headers)?);
            control(&mut out, kind, *flags, &p);
        }
        Frame::RstStream { stream, status } => {
            let mut p = Vec::new();
            p.put_u32(*stream);
            p.put_u32(*status);
            control(&mut out, TYPE_RST_STREAM, 0, &p);
        }
        Frame::Settings => control(&mut out, TYPE_SETTINGS, 0, &0u32.to_be_bytes()),
        Frame::Ping { id } => control(&mut out, TYPE_PING, 0, &id.to_be_bytes()),
        Frame::GoAway { last_good, status } => {
            let mut p = Vec::new();
            p.put_u32(*last_good);
            p.put_u32(*status);
            control(&mut out, TYPE_GOAWAY, 0, &p);
        }
        Frame::WindowUpdate { stream, delta } => {
            let mut p = Vec::new();
            p.put_u32(*stream);
            p.put_u32(*delta);
            control(&mut out, TYPE_WINDOW_UPDATE, 0, &p);
        }
        Frame::Unknown { .. } => return Err(SpdyError::Malformed("cannot send an unknown frame")),
    }
    Ok(out.freeze())
}

/// Reads one frame; `None` at a clean end of the connection between frames.
pub(crate) async fn read_frame<R: AsyncRead + Unpin>(
    r: &mut R,
    dec: &mut HeaderDecoder,
) -> Result<Option<Frame>, SpdyError> {
    let mut head = [0u8; 8];
    match r.read_exact(&mut head).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e.into()),
    }
    let mut h = &head[..];
    let first = h.get_u32();
    let flags_len = h.get_u32();
    let flags = (flags_len >> 24) as u8;
    let len = (flags_len & 0x00ff_ffff) as usize;
    let mut payload = vec![0u8; len];
    r.read_exact(&mut payload).await?;
    if first & 0x8000_0000 == 0 {
        return Ok(Some(Frame::Data {
            stream: first & 0x7fff_ffff,
            flags,
            data: Bytes::from(payload),
        }));
    }
    let kind = (first & 0xffff) as u16;
    let mut p = &payload[..];
    let need = |p: &[u8], n: usize| {
        if p.len() < n {
            Err(SpdyError::Malformed("short control frame"))
        } else {
            Ok(())
        }
    };
    let frame = match kind {
        TYPE_SYN_STREAM => {
            need(p, 10)?;
            let stream = p.get_u32() & 0x7fff_ffff;
            p.advance(6);
            Frame::SynStream {
                stream,
                flags,
                headers: dec.decode(p)?,
            }
        }
        TYPE_SYN_REPLY | TYPE_HEADERS => {
            need(p, 4)?;
            let stream = p.get_u32() & 0x7fff_ffff;
            let headers = dec.decode(p)?;
            if kind == TYPE_SYN_REPLY {
                Frame::SynReply {
                    stream,
                    flags,
                    headers,
                }
            } else {
                Frame::Headers {
                    stream,
                    flags,
                    headers,
                }
            }
        }
        TYPE_RST_STREAM => {
            need(p, 8)?;
            Frame::RstStream {
                stream: p.get_u32() & 0x7fff_ffff,
                status: p.get_u32(),
            }
        }
        TYPE_SETTINGS => Frame::Settings,
        TYPE_PING => {
            need(p, 4)?;
            Frame::Ping { id: p.get_u32() }
        }
        TYPE_GOAWAY => {
            need(p, 8)?;
            Frame::GoAway {
                last_good: p.get_u32() & 0x7fff_ffff,
                status: p.get_u32(),
            }
        }
        TYPE_WINDOW_UPDATE => {
            need(p, 8)?;
            Frame::WindowUpdate {
                stream: p.get_u32() & 0x7fff_ffff,
                delta: p.get_u32() & 0x7fff_ffff,
            }
        }
        other => Frame::Unknown { kind: other },
    };
    Ok(Some(frame))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn dictionary_is_the_specs() {
        let d = dictionary();
        assert_eq!(d.len(), 1423);
        assert_eq!(&d[..11], b"\0\0\0\x07options");
        assert!(d.ends_with(b"enq=0."));
        // Its Adler-32 is the DICTID a Go peer puts in its zlib header (RFC 1950).
        let (mut a, mut b) = (1u32, 0u32);
        for byte in d {
            a = (a + *byte as u32) % 65521;
            b = (b + a) % 65521;
        }
        let mut enc = HeaderEncoder::new().unwrap();
        let block = enc.encode(&h(&[("streamtype", "error")])).unwrap();
        assert_eq!(block[1] & 0x20, 0x20, "FDICT set");
        assert_eq!(
            u32::from_be_bytes([block[2], block[3], block[4], block[5]]),
            (b << 16) | a
        );
    }

    #[tokio::test]
    async fn frames_round_trip_through_one_zlib_stream() {
        let mut enc = HeaderEncoder::new().unwrap();
        let frames = vec![
            Frame::SynStream {
                stream: 1,
                flags: 0,
                headers: h(&[("streamtype", "error")]),
            },
            Frame::SynStream {
                stream: 3,
                flags: 0,
                headers: h(&[("streamtype", "stdin")]),
            },
            Frame::SynReply {
                stream: 3,
                flags: 0,
                headers: vec![],
            },
            Frame::Data {
                stream: 3,
                flags: FLAG_FIN,
                data: Bytes::from_static(b"hello"),
            },
            Frame::RstStream { stream: 5, status: 5 },
            Frame::Ping { id: 2 },
            Frame::GoAway {
                last_good: 7,
                status: 0,
            },
            Frame::Headers {
                stream: 1,
                flags: FLAG_FIN,
                headers: h(&[("a", "b\0c")]),
            },
            Frame::WindowUpdate {
                stream: 1,
                delta: 100,
            },
            Frame::Settings,
        ];
        let mut wire = Vec::new();
        for f in &frames {
            wire.extend_from_slice(&encode(f, &mut enc).unwrap());
        }
        let mut r = &wire[..];
        let mut dec = HeaderDecoder::default();
        let mut got = Vec::new();
        while let Some(f) = read_frame(&mut r, &mut dec).await.unwrap() {
            got.push(f);
        }
        assert_eq!(got, frames);
    }

    #[tokio::test]
    async fn truncated_and_garbage_input_is_an_error_not_a_panic() {
        let mut enc = HeaderEncoder::new().unwrap();
        let wire = encode(
            &Frame::SynStream {
                stream: 1,
                flags: 0,
                headers: h(&[("x", "y")]),
            },
            &mut enc,
        )
        .unwrap();
        let mut short = &wire[..wire.len() - 2];
        assert!(
            read_frame(&mut short, &mut HeaderDecoder::default())
                .await
                .is_err()
        );
        // A SYN_REPLY whose header block is not zlib.
        let mut bad = BytesMut::new();
        control(&mut bad, TYPE_SYN_REPLY, 0, &[0, 0, 0, 1, 0xde, 0xad, 0xbe, 0xef]);
        let mut bad = &bad[..];
        assert!(read_frame(&mut bad, &mut HeaderDecoder::default()).await.is_err());
        let mut empty: &[u8] = &[];
        assert!(
            read_frame(&mut empty, &mut HeaderDecoder::default())
                .await
                .unwrap()
                .is_none()
        );
    }
}
