//! The quantity, IP, CIDR, semver and format libraries, with upstream's documented examples.

use serde_json::json;

use crate::{Environment, EvalError, PER_CALL_LIMIT, TypeHint, Value, from_json};

fn eval(rule: &str) -> Result<Value, EvalError> {
    let env = Environment::kubernetes().expect("environment");
    let program = env.compile(rule, &["self"]).expect("compiles");
    let value = from_json(&json!({"limit": "2Gi", "n": 3}), &TypeHint::Dynamic);
    program
        .evaluate(&[("self", &value)], PER_CALL_LIMIT)
        .map(|e| e.value)
}

fn holds(rule: &str) -> bool {
    match eval(rule) {
        Ok(Value::Bool(b)) => b,
        other => panic!("{rule}: {other:?}"),
    }
}

fn string(rule: &str) -> String {
    match eval(rule) {
        Ok(Value::String(s)) => s.to_string(),
        other => panic!("{rule}: {other:?}"),
    }
}

fn int(rule: &str) -> i64 {
    match eval(rule) {
        Ok(Value::Int(i)) => i,
        other => panic!("{rule}: {other:?}"),
    }
}

fn error(rule: &str) -> String {
    match eval(rule) {
        Err(e) => e.to_string(),
        other => panic!("{rule} should fail: {other:?}"),
    }
}

#[test]
fn quantities() {
    assert!(holds(
        "isQuantity('1.5Gi') && isQuantity('100m') && isQuantity('1e3')"
    ));
    assert!(!holds("isQuantity('1.5.3')") && !holds("isQuantity(' 1')") && !holds("isQuantity('1Gb')"));
    assert!(holds("quantity('1Gi') == quantity('1024Mi')"));
    assert!(holds("quantity('1Gi') != quantity('1G')"));
    assert!(holds("quantity(self.limit).isGreaterThan(quantity('1.5Gi'))"));
    assert!(holds("quantity('100m').isLessThan(quantity('1'))"));
    assert_eq!(int("quantity('2').compareTo(quantity('2000m'))"), 0);
    assert_eq!(int("quantity('1').compareTo(quantity('2'))"), -1);
    assert_eq!(int("quantity('-5').sign()"), -1);
    assert_eq!(int("sign(quantity('0'))"), 0);
    assert!(holds(
        "quantity('1k').isInteger() && !quantity('1500m').isInteger()"
    ));
    assert_eq!(int("quantity('1k').asInteger()"), 1000);
    assert_eq!(
        eval("quantity('1500m').asApproximateFloat()"),
        Ok(Value::Float(1.5))
    );
    assert!(holds("quantity('50M').add(quantity('20M')) == quantity('70M')"));
    assert!(holds("quantity('50k').add(20) == quantity('50020')"));
    assert!(holds("quantity('50k').sub(20) == quantity('49980')"));
    assert!(holds(
        "quantity('1Gi').sub(quantity('512Mi')) == quantity('512Mi')"
    ));
    assert!(error("quantity('1500m').asInteger()").contains("cannot convert value to integer"));
    assert!(error("quantity('abc')").contains("quantities must match the regular expression"));
    assert!(error("quantity('9Ei').asInteger()").contains("cannot convert value to integer"));
}

#[test]
fn ip_addresses() {
    assert!(holds(
        "isIP('10.0.0.1') && isIP('2001:db8::1') && !isIP('10.0.0')"
    ));
    assert!(
        !holds("isIP('010.0.0.1')"),
        "leading zeros are refused as Go's netip does"
    );
    assert!(
        error("ip('::ffff:1.2.3.4')").contains("IPv4-mapped IPv6 address \"::ffff:1.2.3.4\" is not allowed")
    );
    assert!(error("ip('fe80::1%eth0')").contains("with zone value is not allowed"));
    assert_eq!(int("ip('10.0.0.1').family()"), 4);
    assert_eq!(int("ip('::1').family()"), 6);
    assert!(holds(
        "ip.isCanonical('2001:db8::1') && !ip.isCanonical('2001:DB8::1')"
    ));
    assert!(!holds("ip.isCanonical('2001:db8:0:0:0:0:0:1')"));
    assert_eq!(string("string(ip('2001:DB8::1'))"), "2001:db8::1");
    assert!(holds("ip('0.0.0.0').isUnspecified() && ip('::').isUnspecified()"));
    assert!(holds(
        "ip('127.0.0.2').isLoopback() && ip('::1').isLoopback() && !ip('10.0.0.1').isLoopback()"
    ));
    assert!(holds(
        "ip('224.0.0.1').isLinkLocalMulticast() && !ip('224.0.1.1').isLinkLocalMulticast()"
    ));
    assert!(holds(
        "ip('ff02::1').isLinkLocalMulticast() && !ip('fd00::1').isLinkLocalMulticast()"
    ));
    assert!(holds(
        "ip('169.254.169.254').isLinkLocalUnicast() && ip('fe80::1').isLinkLocalUnicast()"
    ));
    assert!(!holds("ip('fd80::1').isLinkLocalUnicast()"));
    assert!(holds(
        "ip('192.168.0.1').isGlobalUnicast() && ip('2001:db8::abcd').isGlobalUnicast()"
    ));
    assert!(!holds("ip('255.255.255.255').isGlobalUnicast()") && !holds("ip('ff00::1').isGlobalUnicast()"));
    assert!(holds(
        "ip('10.0.0.1') == ip('10.0.0.1') && ip('10.0.0.1') != ip('10.0.0.2')"
    ));
}

#[test]
fn cidrs() {
    assert!(holds(
        "isCIDR('10.0.0.0/8') && isCIDR('2001:db8::/32') && !isCIDR('10.0.0.0/33')"
    ));
    assert!(!holds("isCIDR('10.0.0.0')") && !holds("isCIDR('10.0.0.0/08')"));
    assert!(holds("cidr('192.168.0.0/24').containsIP(ip('192.168.0.1'))"));
    assert!(holds("cidr('192.168.0.0/24').containsIP('192.168.0.255')"));
    assert!(!holds("cidr('192.168.0.0/24').containsIP('192.168.1.1')"));
    assert!(!holds("cidr('192.168.0.0/24').containsIP('::1')"));
    assert!(holds(
        "cidr('192.168.0.0/16').containsCIDR(cidr('192.168.10.0/24'))"
    ));
    assert!(holds("cidr('192.168.0.0/16').containsCIDR('192.168.10.0/24')"));
    assert!(!holds("cidr('192.168.10.0/24').containsCIDR('192.168.0.0/16')"));
    assert_eq!(string("string(cidr('192.168.0.1/24').ip())"), "192.168.0.1");
    assert_eq!(
        string("string(cidr('192.168.0.1/24').masked())"),
        "192.168.0.0/24"
    );
    assert_eq!(string("string(cidr('192.168.0.1/24'))"), "192.168.0.1/24");
    assert_eq!(string("string(cidr('::1/64').masked())"), "::/64");
    assert_eq!(int("cidr('10.0.0.0/8').prefixLength()"), 8);
    assert!(holds(
        "cidr('10.0.0.0/8') == cidr('10.0.0.0/8') && cidr('10.0.0.1/8') != cidr('10.0.0.0/8')"
    ));
    assert!(holds("cidr('192.168.0.1/24').ip() == ip('192.168.0.1')"));
    assert!(error("cidr('::ffff:1.2.3.4/96')").contains("IPv4-mapped IPv6 address"));
    assert!(error("cidr('10.0.0.1')").contains("network address parse error"));
}

#[test]
fn semantic_versions() {
    assert!(holds(
        "isSemver('1.2.3-alpha+build') && !isSemver('v1.2.3') && !isSemver('1.2')"
    ));
    assert!(holds("isSemver('v1.02', true) && !isSemver('1.2-beta', true)"));
    assert_eq!(
        int("semver('1.2.3').major() * 100 + semver('1.2.3').minor() * 10 + semver('1.2.3').patch()"),
        123
    );
    assert_eq!(int("semver('v01.2', true).major()"), 1);
    assert_eq!(int("semver('1.2.3').compareTo(semver('1.2.3'))"), 0);
    assert_eq!(int("semver('1.2.3').compareTo(semver('2.0.0'))"), -1);
    assert_eq!(int("semver('1.2.3').compareTo(semver('0.1.2'))"), 1);
    assert!(holds("semver('1.0.0-alpha').isLessThan(semver('1.0.0'))"));
    assert!(holds("semver('1.10.0').isGreaterThan(semver('1.9.0'))"));
    assert!(
        holds("semver('1.0.0+a') == semver('1.0.0+b')"),
        "build metadata has no precedence"
    );
    assert!(error("semver('1.2')").contains("1.2"));
}

#[test]
fn named_formats() {
    assert!(holds("!format.dns1123Label().validate('my-name').hasValue()"));
    let errors = eval("format.dns1123Label().validate('My_Name').value()");
    let Ok(Value::List(errors)) = errors else {
        panic!("{errors:?}")
    };
    assert!(
        matches!(&errors[0], Value::String(s) if s.contains("a lowercase RFC 1123 label must consist of"))
    );
    assert!(holds(
        "format.named('dns1123Subdomain').hasValue() && !format.named('nope').hasValue()"
    ));
    assert!(holds(
        "!format.named('labelValue').value().validate('abc').hasValue()"
    ));
    assert!(holds(
        "format.dns1123LabelPrefix().validate('abc-') == optional.none()"
    ));
    assert!(holds("format.dns1035Label().validate('1abc').hasValue()"));
    assert!(holds(
        "format.qualifiedName().validate('example.com/Name') == optional.none()"
    ));
    assert!(holds(
        "format.uuid().validate('123e4567-e89b-12d3-a456-426614174000') == optional.none()"
    ));
    assert!(holds(
        "format.uuid().validate('123e4567').value() == ['does not match the UUID format']"
    ));
    assert!(holds("format.byte().validate('aGVsbG8=') == optional.none()"));
    assert!(holds(
        "format.byte().validate('!!').value() == ['invalid base64']"
    ));
    assert!(holds("format.date().validate('2021-01-01') == optional.none()"));
    assert!(holds(
        "format.date().validate('2021-13-01').value() == ['invalid date']"
    ));
    assert!(holds(
        "format.datetime().validate('2021-01-01T00:00:00Z') == optional.none()"
    ));
    assert!(holds(
        "format.uri().validate('https://example.com/x') == optional.none()"
    ));
    assert!(holds("format.uri().validate('not a uri').hasValue()"));
}

#[test]
fn sets_and_bindings() {
    assert!(holds(
        "sets.contains([1, 2, 3], [3, 1]) && !sets.contains([1], [1, 2])"
    ));
    assert!(holds(
        "sets.equivalent([1, 1, 2], [2, 1]) && !sets.equivalent([1], [1, 2])"
    ));
    assert!(holds(
        "sets.intersects(['a', 'b'], ['b']) && !sets.intersects([1], [2])"
    ));
    assert!(holds(
        "cel.bind(q, quantity(self.limit), q.isGreaterThan(quantity('1Gi')) && q.isInteger())"
    ));
    assert_eq!(int("cel.bind(a, self.n, cel.bind(b, a * 2, a + b))"), 9);
}
