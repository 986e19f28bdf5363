//! The write-ahead log: length- and checksum-framed records appended to one file. A torn or
//! corrupt tail (a crash in the middle of an append) is detected by the checksum and cut off on
//! open; everything before it was acknowledged only after an fsync, so it is intact.

use bytes::{Buf, BufMut, Bytes};

use crate::Revision;

/// Frame: payload length (u32 LE), CRC-32 of the payload (u32 LE), payload.
const FRAME_HEADER: usize = 8;
/// Refuse absurd lengths in a corrupt header instead of allocating them.
const MAX_RECORD: usize = 64 << 20;

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Record {
    /// A create or update.
    Put {
        key: String,
        value: Bytes,
        create_revision: Revision,
        revision: Revision,
    },
    /// A deletion.
    Delete { key: String, revision: Revision },
    /// History below `revision` was dropped.
    Compact { revision: Revision },
    /// A version older than the retained history, written when the log is rewritten.
    Base {
        key: String,
        value: Bytes,
        create_revision: Revision,
        mod_revision: Revision,
    },
    /// The revision counter stands at least here (written when the log is rewritten).
    Revision { revision: Revision },
}

const TAG_PUT: u8 = 1;
const TAG_DELETE: u8 = 2;
const TAG_COMPACT: u8 = 3;
const TAG_BASE: u8 = 4;
const TAG_REVISION: u8 = 5;

impl Record {
    /// Appends the framed record to `out`.
    pub(crate) fn encode_into(&self, out: &mut Vec<u8>) {
        let start = out.len();
        out.extend_from_slice(&[0; FRAME_HEADER]);
        match self {
            Record::Put {
                key,
                value,
                create_revision,
                revision,
            } => {
                out.put_u8(TAG_PUT);
                out.put_i64_le(*revision);
                out.put_i64_le(*create_revision);
                put_bytes(out, key.as_bytes());
                put_bytes(out, value);
            }
            Record::Delete { key, revision } => {
                out.put_u8(TAG_DELETE);
                out.put_i64_le(*revision);
                put_bytes(out, key.as_bytes());
            }
            Record::Compact { revision } => {
                out.put_u8(TAG_COMPACT);
                out.put_i64_le(*revision);
            }
            Record::Base {
                key,
                value,
                create_revision,
                mod_revision,
            } => {
                out.put_u8(TAG_BASE);
                out.put_i64_le(*mod_revision);
                out.put_i64_le(*create_revision);
                put_bytes(out, key.as_bytes());
                put_bytes(out, value);
            }
            Record::Revision { revision } => {
                out.put_u8(TAG_REVISION);
                out.put_i64_le(*revision);
            }
        }
        let payload_len = out.len() - start - FRAME_HEADER;
        let crc = crc32fast::hash(&out[start + FRAME_HEADER..]);
        out[start..start + 4].copy_from_slice(&(payload_len as u32).to_le_bytes());
        out[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
    }

    fn decode(mut payload: Bytes) -> Option<Record> {
        let tag = take_u8(&mut payload)?;
        let record = match tag {
            TAG_PUT | TAG_BASE => {
                let rev = take_i64(&mut payload)?;
                let create_revision = take_i64(&mut payload)?;
                let key = take_string(&mut payload)?;
                let value = take_bytes(&mut payload)?;
                if tag == TAG_PUT {
                    Record::Put {
                        key,
                        value,
                        create_revision,
                        revision: rev,
                    }
                } else {
                    Record::Base {
                        key,
                        value,
                        create_revision,
                        mod_revision: rev,
                    }
                }
            }
            TAG_DELETE => {
                let revision = take_i64(&mut payload)?;
                Record::Delete {
                    key: take_string(&mut payload)?,
                    revision,
                }
            }
            TAG_COMPACT => Record::Compact {
                revision: take_i64(&mut payload)?,
            },
            TAG_REVISION => Record::Revision {
                revision: take_i64(&mut payload)?,
            },
            _ => return None,
        };
        payload.is_empty().then_some(record)
    }
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    out.put_u32_le(bytes.len() as u32);
    out.extend_from_slice(bytes);
}

fn take_u8(buf: &mut Bytes) -> Option<u8> {
    (buf.remaining() >= 1).then(|| buf.get_u8())
}

fn take_i64(buf: &mut Bytes) -> Option<i64> {
    (buf.remaining() >= 8).then(|| buf.get_i64_le())
}

fn take_bytes(buf: &mut Bytes) -> Option<Bytes> {
    let len = (buf.remaining() >= 4).then(|| buf.get_u32_le())? as usize;
    (buf.remaining() >= len).then(|| buf.split_to(len))
}

fn take_string(buf: &mut Bytes) -> Option<String> {
    String::from_utf8(take_bytes(buf)?.to_vec()).ok()
}

/// Decodes every intact record of a log image. Returns the records and the length of the intact
/// prefix; anything after it is a torn or corrupt tail.
pub(crate) fn decode_all(data: Bytes) -> (Vec<Record>, usize) {
    let mut records = Vec::new();
    let mut offset = 0;
    while data.len() - offset >= FRAME_HEADER {
        let header = &data[offset..offset + FRAME_HEADER];
        let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]) as usize;
        let crc = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
        let end = offset + FRAME_HEADER + len;
        if len > MAX_RECORD || end > data.len() {
            break;
        }
        let payload = data.slice(offset + FRAME_HEADER..end);
        if crc32fast::hash(&payload) != crc {
            break;
        }
        let Some(record) = Record::decode(payload) else {
            break;
        };
        records.push(record);
        offset = end;
    }
    (records, offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<Record> {
        vec![
            Record::Put {
                key: "/a".into(),
                value: Bytes::from_static(b"v"),
                create_revision: 1,
                revision: 1,
            },
            Record::Delete {
                key: "/a".into(),
                revision: 2,
            },
            Record::Base {
                key: "/b".into(),
                value: Bytes::new(),
                create_revision: 1,
                mod_revision: 1,
            },
            Record::Revision { revision: 9 },
            Record::Compact { revision: 2 },
        ]
    }

    #[test]
    fn records_round_trip() {
        let mut buf = Vec::new();
        for r in sample() {
            r.encode_into(&mut buf);
        }
        let (records, len) = decode_all(Bytes::from(buf.clone()));
        assert_eq!(records, sample());
        assert_eq!(len, buf.len());
    }

    #[test]
    fn a_torn_or_corrupt_tail_is_cut_off() {
        let mut buf = Vec::new();
        for r in sample() {
            r.encode_into(&mut buf);
        }
        let full = buf.len();
        let last_record = FRAME_HEADER + 1 + 8;
        for cut in 1..=last_record {
            let (records, len) = decode_all(Bytes::from(buf[..full - cut].to_vec()));
            assert_eq!(records.len(), 4, "cut {cut}");
            assert_eq!(
                len,
                full - last_record,
                "the intact prefix ends before the torn record"
            );
        }
        let mut corrupt = buf.clone();
        corrupt[12] ^= 0xff; // inside the first payload
        let (records, len) = decode_all(Bytes::from(corrupt));
        assert!(records.is_empty());
        assert_eq!(len, 0);
    }
}
