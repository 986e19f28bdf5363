//! Upstream's IP library: `ip(string)`, `isIP(string)`, `ip.isCanonical(string)`,
//! `string(ip)`, and on an IP `family`, `isUnspecified`, `isLoopback`, `isLinkLocalMulticast`,
//! `isLinkLocalUnicast` and `isGlobalUnicast` with Go's `netip` meanings. IPv4-mapped IPv6
//! addresses and zones are refused, as upstream refuses them.

use std::net::IpAddr;

use cel::common::types::STRING_TYPE;
use cel::common::value::CowVal;
use cel::objects::Opaque;
use cel::{ExecutionError, Value};

use super::{arg, give, give_opaque, text_arg, values};

/// An IP address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Ip(pub(super) IpAddr);

impl Opaque for Ip {
    fn runtime_type_name(&self) -> &str {
        "net.IP"
    }
}

pub(super) fn ip_type() -> cel::common::types::Type {
    cel::common::types::Type::new_opaque_type("net.IP")
}

/// Parses an address as upstream's `parseIPAddr`; the error is the message CEL reports.
pub(super) fn parse(raw: &str) -> Result<IpAddr, String> {
    if raw.contains('%') {
        return Err(format!("IP address {raw:?} with zone value is not allowed"));
    }
    let addr: IpAddr = raw.parse().map_err(|_| {
        format!("IP Address {raw:?} parse error during conversion from string: ParseAddr({raw:?}): unable to parse IP")
    })?;
    if let IpAddr::V6(v6) = addr
        && v6.to_ipv4_mapped().is_some()
    {
        return Err(format!("IPv4-mapped IPv6 address {raw:?} is not allowed"));
    }
    Ok(addr)
}

pub(super) fn register(env: &mut cel::Env) -> Result<(), cel::DeclarationError> {
    env.add_overload("ip", "string_to_ip", vec![STRING_TYPE], to_ip)?;
    env.add_overload("isIP", "is_ip", vec![STRING_TYPE], is_ip)?;
    env.add_overload(
        "ip.isCanonical",
        "ip_is_canonical",
        vec![STRING_TYPE],
        is_canonical,
    )?;
    env.add_overload("string", "ip_to_string", vec![ip_type()], to_string)?;
    let checks: [(&str, &str, cel::common::functions::Function); 6] = [
        ("family", "ip_family", family),
        ("isUnspecified", "ip_is_unspecified", is_unspecified),
        ("isLoopback", "ip_is_loopback", is_loopback),
        (
            "isLinkLocalMulticast",
            "ip_is_link_local_multicast",
            is_link_local_multicast,
        ),
        (
            "isLinkLocalUnicast",
            "ip_is_link_local_unicast",
            is_link_local_unicast,
        ),
        ("isGlobalUnicast", "ip_is_global_unicast", is_global_unicast),
    ];
    for (name, id, op) in checks {
        env.add_member_overload(name, id, ip_type(), vec![], op)?;
    }
    Ok(())
}

fn parsed(
    function: &str,
    args: &[CowVal<'_, '_>],
) -> Result<(String, Result<IpAddr, String>), ExecutionError> {
    let args = values(args)?;
    let raw = text_arg(function, &args, 0)?.to_string();
    let addr = parse(&raw);
    Ok((raw, addr))
}

fn to_ip<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let (_, addr) = parsed("ip", &args)?;
    give_opaque(Ip(addr.map_err(|e| ExecutionError::function_error("ip", e))?))
}

fn is_ip<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    give(Value::Bool(parsed("isIP", &args)?.1.is_ok()))
}

fn is_canonical<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let (raw, addr) = parsed("ip.isCanonical", &args)?;
    let addr = addr.map_err(|e| ExecutionError::function_error("ip.isCanonical", e))?;
    // Rust prints IPv6 as RFC 5952 does, which is Go's canonical form too.
    give(Value::Bool(addr.to_string() == raw))
}

fn the_ip(function: &str, args: &[CowVal<'_, '_>]) -> Result<IpAddr, ExecutionError> {
    let args = values(args)?;
    Ok(arg::<Ip>(function, &args, 0)?.0)
}

fn to_string<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    give(Value::String(the_ip("string", &args)?.to_string().into()))
}

fn family<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    give(Value::Int(if the_ip("family", &args)?.is_ipv4() { 4 } else { 6 }))
}

fn is_unspecified<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    give(Value::Bool(the_ip("isUnspecified", &args)?.is_unspecified()))
}

fn is_loopback<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    give(Value::Bool(the_ip("isLoopback", &args)?.is_loopback()))
}

/// Go's `IsLinkLocalMulticast`: 224.0.0.0/24 and ff02::/16.
fn link_local_multicast(addr: IpAddr) -> bool {
    match addr {
        IpAddr::V4(v4) => v4.octets()[..3] == [224, 0, 0],
        IpAddr::V6(v6) => v6.segments()[0] & 0xff0f == 0xff02,
    }
}

/// Go's `IsLinkLocalUnicast`: 169.254.0.0/16 and fe80::/10.
fn link_local_unicast(addr: IpAddr) -> bool {
    match addr {
        IpAddr::V4(v4) => v4.is_link_local(),
        IpAddr::V6(v6) => v6.segments()[0] & 0xffc0 == 0xfe80,
    }
}

/// Go's `IsGlobalUnicast`: anything but unspecified, loopback, multicast, link-local unicast and
/// the IPv4 broadcast address (private ranges count as global unicast).
fn global_unicast(addr: IpAddr) -> bool {
    let broadcast = matches!(addr, IpAddr::V4(v4) if v4.is_broadcast());
    !(addr.is_unspecified()
        || addr.is_loopback()
        || addr.is_multicast()
        || link_local_unicast(addr)
        || broadcast)
}

fn is_link_local_multicast<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    give(Value::Bool(link_local_multicast(the_ip(
        "isLinkLocalMulticast",
        &args,
    )?)))
}

fn is_link_local_unicast<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    give(Value::Bool(link_local_unicast(the_ip(
        "isLinkLocalUnicast",
        &args,
    )?)))
}

fn is_global_unicast<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    give(Value::Bool(global_unicast(the_ip("isGlobalUnicast", &args)?)))
}
