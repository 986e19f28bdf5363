//! Upstream's CIDR library: `cidr(string)`, `isCIDR(string)`, `string(cidr)`, and on a CIDR
//! `containsIP` (an IP or a string), `containsCIDR` (a CIDR or a string), `ip`, `masked` and
//! `prefixLength`, with Go's `netip.Prefix` meanings: the address keeps its host bits until
//! `masked()`.

use std::net::IpAddr;

use cel::common::types::STRING_TYPE;
use cel::common::value::CowVal;
use cel::objects::Opaque;
use cel::{ExecutionError, Value};

use super::ip::{Ip, ip_type};
use super::{arg, give, give_opaque, text_arg, values};

/// A network prefix: an address and a prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Cidr {
    addr: IpAddr,
    bits: u8,
}

impl Opaque for Cidr {
    fn runtime_type_name(&self) -> &str {
        "net.CIDR"
    }
}

impl Cidr {
    fn parse(raw: &str) -> Result<Cidr, String> {
        let bad = |why: &str| {
            format!(
                "network address parse error during conversion from string: netip.ParsePrefix({raw:?}): {why}"
            )
        };
        let (addr, bits) = raw.split_once('/').ok_or_else(|| bad("no '/'"))?;
        let addr = super::ip::parse(addr).map_err(|e| {
            if e.contains("parse error") {
                bad("bad IP")
            } else {
                e.replace(&format!("{addr:?}"), &format!("{raw:?}"))
            }
        })?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let leading_zero = bits.len() > 1 && bits.starts_with('0');
        let bits: u8 = match bits.parse() {
            Ok(b) if b <= max && !leading_zero && bits.bytes().all(|c| c.is_ascii_digit()) => b,
            _ => return Err(bad(&format!("bad bits after slash: {bits:?}"))),
        };
        Ok(Cidr { addr, bits })
    }

    fn masked(self) -> Cidr {
        let addr = match self.addr {
            IpAddr::V4(v4) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.bits)).unwrap_or(0);
                IpAddr::V4((u32::from(v4) & mask).into())
            }
            IpAddr::V6(v6) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(self.bits)).unwrap_or(0);
                IpAddr::V6((u128::from(v6) & mask).into())
            }
        };
        Cidr {
            addr,
            bits: self.bits,
        }
    }

    fn contains(self, ip: IpAddr) -> bool {
        ip.is_ipv4() == self.addr.is_ipv4()
            && Cidr {
                addr: ip,
                bits: self.bits,
            }
            .masked()
                == self.masked()
    }

    fn contains_cidr(self, other: Cidr) -> bool {
        self.bits <= other.bits && self.contains(other.addr)
    }
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr, self.bits)
    }
}

fn cidr_type() -> cel::common::types::Type {
    cel::common::types::Type::new_opaque_type("net.CIDR")
}

pub(super) fn register(env: &mut cel::Env) -> Result<(), cel::DeclarationError> {
    env.add_overload("cidr", "string_to_cidr", vec![STRING_TYPE], to_cidr)?;
    env.add_overload("isCIDR", "is_cidr", vec![STRING_TYPE], is_cidr)?;
    env.add_overload("string", "cidr_to_string", vec![cidr_type()], to_string)?;
    env.add_member_overload(
        "containsIP",
        "cidr_contains_ip_string",
        cidr_type(),
        vec![STRING_TYPE],
        contains_ip,
    )?;
    env.add_member_overload(
        "containsIP",
        "cidr_contains_ip_ip",
        cidr_type(),
        vec![ip_type()],
        contains_ip,
    )?;
    env.add_member_overload(
        "containsCIDR",
        "cidr_contains_cidr_string",
        cidr_type(),
        vec![STRING_TYPE],
        contains_cidr,
    )?;
    env.add_member_overload(
        "containsCIDR",
        "cidr_contains_cidr",
        cidr_type(),
        vec![cidr_type()],
        contains_cidr,
    )?;
    env.add_member_overload("ip", "cidr_ip", cidr_type(), vec![], ip)?;
    env.add_member_overload("masked", "cidr_masked", cidr_type(), vec![], masked)?;
    env.add_member_overload(
        "prefixLength",
        "cidr_prefix_length",
        cidr_type(),
        vec![],
        prefix_length,
    )?;
    Ok(())
}

fn to_cidr<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let args = values(&args)?;
    let cidr =
        Cidr::parse(text_arg("cidr", &args, 0)?).map_err(|e| ExecutionError::function_error("cidr", e))?;
    give_opaque(cidr)
}

fn is_cidr<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let args = values(&args)?;
    give(Value::Bool(Cidr::parse(text_arg("isCIDR", &args, 0)?).is_ok()))
}

fn the_cidr(function: &str, args: &[Value]) -> Result<Cidr, ExecutionError> {
    arg::<Cidr>(function, args, 0).copied()
}

fn to_string<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let args = values(&args)?;
    give(Value::String(the_cidr("string", &args)?.to_string().into()))
}

fn contains_ip<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let args = values(&args)?;
    let cidr = the_cidr("containsIP", &args)?;
    let ip = match arg::<Ip>("containsIP", &args, 1) {
        Ok(ip) => ip.0,
        Err(_) => super::ip::parse(text_arg("containsIP", &args, 1)?)
            .map_err(|e| ExecutionError::function_error("containsIP", e))?,
    };
    give(Value::Bool(cidr.contains(ip)))
}

fn contains_cidr<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let args = values(&args)?;
    let cidr = the_cidr("containsCIDR", &args)?;
    let other = match arg::<Cidr>("containsCIDR", &args, 1) {
        Ok(other) => *other,
        Err(_) => Cidr::parse(text_arg("containsCIDR", &args, 1)?)
            .map_err(|e| ExecutionError::function_error("containsCIDR", e))?,
    };
    give(Value::Bool(cidr.contains_cidr(other)))
}

fn ip<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let args = values(&args)?;
    give_opaque(Ip(the_cidr("ip", &args)?.addr))
}

fn masked<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let args = values(&args)?;
    give_opaque(the_cidr("masked", &args)?.masked())
}

fn prefix_length<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let args = values(&args)?;
    give(Value::Int(i64::from(the_cidr("prefixLength", &args)?.bits)))
}
