//! The protobuf wire format: varints, tags and length-delimited fields. Error messages follow
//! the gogo-generated decoders upstream uses (`unexpected EOF`, `proto: integer overflow`).

pub(super) const VARINT: u8 = 0;
pub(super) const FIXED64: u8 = 1;
pub(super) const LEN: u8 = 2;
const START_GROUP: u8 = 3;
const END_GROUP: u8 = 4;
pub(super) const FIXED32: u8 = 5;

/// Groups nest; a hostile body must not recurse without end.
const MAX_GROUP_DEPTH: usize = 64;

/// One field value as it appears on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum WireValue<'a> {
    Varint(u64),
    Fixed64(u64),
    Fixed32(u32),
    Len(&'a [u8]),
    /// A (deprecated) group, skipped; only its presence is kept.
    Group,
}

impl WireValue<'_> {
    pub(super) fn wire_type(&self) -> u8 {
        match self {
            WireValue::Varint(_) => VARINT,
            WireValue::Fixed64(_) => FIXED64,
            WireValue::Fixed32(_) => FIXED32,
            WireValue::Len(_) => LEN,
            WireValue::Group => START_GROUP,
        }
    }
}

/// Reads fields from one message's bytes.
#[derive(Debug)]
pub(super) struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(super) fn new(data: &'a [u8]) -> Self {
        Reader { data, pos: 0 }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.pos >= self.data.len()
    }

    pub(super) fn varint(&mut self) -> Result<u64, String> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let Some(&b) = self.data.get(self.pos) else {
                return Err("unexpected EOF".into());
            };
            self.pos += 1;
            value |= u64::from(b & 0x7f) << shift;
            if b < 0x80 {
                return Ok(value);
            }
        }
        Err("proto: integer overflow".into())
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.data.len());
        let Some(end) = end else {
            return Err("unexpected EOF".into());
        };
        let out = &self.data[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    /// The next field: its number and value. `message` names the message in errors.
    pub(super) fn field(&mut self, message: &str) -> Result<(u32, WireValue<'a>), String> {
        self.field_at(message, 0)
    }

    fn field_at(&mut self, message: &str, depth: usize) -> Result<(u32, WireValue<'a>), String> {
        let key = self.varint()?;
        let wire_type = (key & 7) as u8;
        let number = key >> 3;
        if wire_type == END_GROUP {
            return Err(format!("proto: {message}: wiretype end group for non-group"));
        }
        if number == 0 || number > u64::from(u32::MAX >> 3) {
            return Err(format!(
                "proto: {message}: illegal tag {number} (wire type {wire_type})"
            ));
        }
        let number = number as u32;
        let value = match wire_type {
            VARINT => WireValue::Varint(self.varint()?),
            FIXED64 => {
                let b = self.take(8)?;
                WireValue::Fixed64(u64::from_le_bytes(b.try_into().map_err(|_| "unexpected EOF")?))
            }
            FIXED32 => {
                let b = self.take(4)?;
                WireValue::Fixed32(u32::from_le_bytes(b.try_into().map_err(|_| "unexpected EOF")?))
            }
            LEN => {
                let len = self.varint()?;
                let len =
                    usize::try_from(len).map_err(|_| "proto: negative length found during unmarshaling")?;
                WireValue::Len(self.take(len)?)
            }
            START_GROUP => {
                self.skip_group(message, number, depth)?;
                WireValue::Group
            }
            other => return Err(format!("proto: illegal wireType {other}")),
        };
        Ok((number, value))
    }

    fn skip_group(&mut self, message: &str, number: u32, depth: usize) -> Result<(), String> {
        if depth >= MAX_GROUP_DEPTH {
            return Err("proto: groups nested too deeply".into());
        }
        loop {
            if self.is_empty() {
                return Err("unexpected EOF".into());
            }
            // An end-group tag closes this group; anything else is a field inside it.
            let save = self.pos;
            let key = self.varint()?;
            if key & 7 == u64::from(END_GROUP) {
                return if key >> 3 == u64::from(number) {
                    Ok(())
                } else {
                    Err("proto: mismatched end group".into())
                };
            }
            self.pos = save;
            self.field_at(message, depth + 1)?;
        }
    }
}

/// Every varint in a packed repeated field.
pub(super) fn packed_varints(data: &[u8]) -> Result<Vec<u64>, String> {
    let mut r = Reader::new(data);
    let mut out = Vec::new();
    while !r.is_empty() {
        out.push(r.varint()?);
    }
    Ok(out)
}

/// Every 64-bit value in a packed repeated field.
pub(super) fn packed_fixed64(data: &[u8]) -> Result<Vec<u64>, String> {
    if !data.len().is_multiple_of(8) {
        return Err("unexpected EOF".into());
    }
    Ok(data
        .chunks_exact(8)
        .map(|c| {
            let mut b = [0u8; 8];
            b.copy_from_slice(c);
            u64::from_le_bytes(b)
        })
        .collect())
}

pub(super) fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

pub(super) fn put_tag(out: &mut Vec<u8>, number: u32, wire_type: u8) {
    put_varint(out, (u64::from(number) << 3) | u64::from(wire_type));
}

/// A length-delimited field: string, bytes or an embedded message.
pub(super) fn put_len(out: &mut Vec<u8>, number: u32, data: &[u8]) {
    put_tag(out, number, LEN);
    put_varint(out, data.len() as u64);
    out.extend_from_slice(data);
}

pub(super) fn put_varint_field(out: &mut Vec<u8>, number: u32, v: u64) {
    put_tag(out, number, VARINT);
    put_varint(out, v);
}

pub(super) fn put_fixed64_field(out: &mut Vec<u8>, number: u32, v: u64) {
    put_tag(out, number, FIXED64);
    out.extend_from_slice(&v.to_le_bytes());
}
