//! Parsing of single values (numbers, decimal seconds, addresses), pure and
//! allocation free.

use core::fmt;
use core::net::IpAddr;

/// An unsigned decimal integer (digits only, no sign).
pub fn parse_uint(s: &[u8]) -> Option<u64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    let mut v: u64 = 0;
    for &b in s {
        if !b.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
    }
    Some(v)
}

/// A signed decimal integer (`-5`, `+5`, `5`).
pub fn parse_int(s: &[u8]) -> Option<i64> {
    match s.first() {
        Some(b'-') => {
            let v = parse_uint(&s[1..])?;
            if v > i64::MAX as u64 {
                return None;
            }
            Some(-(v as i64))
        }
        Some(b'+') => i64::try_from(parse_uint(&s[1..])?).ok(),
        _ => i64::try_from(parse_uint(s)?).ok(),
    }
}

/// Non-negative decimal seconds (`1`, `0.5`, `.25`, `2.`) in microseconds.
/// Digits beyond the sixth decimal are ignored.
pub fn parse_seconds_us(s: &[u8]) -> Option<u64> {
    let (int, frac) = match s.iter().position(|&b| b == b'.') {
        Some(i) => (&s[..i], &s[i + 1..]),
        None => (s, &s[s.len()..]),
    };
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    let whole = if int.is_empty() { 0 } else { parse_uint(int)? };
    let mut us: u64 = 0;
    let mut scale: u64 = 100_000;
    for &b in frac {
        if !b.is_ascii_digit() {
            return None;
        }
        us += u64::from(b - b'0') * scale;
        scale /= 10;
    }
    whole.checked_mul(1_000_000)?.checked_add(us)
}

/// An IPv4 or IPv6 address.
pub fn parse_ip(s: &[u8]) -> Option<IpAddr> {
    core::str::from_utf8(s).ok()?.parse().ok()
}

/// keepalived's optional boolean argument: absent means true.
pub fn parse_bool_word(s: &[u8]) -> Option<bool> {
    match s {
        b"true" | b"on" | b"yes" => Some(true),
        b"false" | b"off" | b"no" => Some(false),
        _ => None,
    }
}

/// Microseconds shown as seconds with the decimals needed (`1.5`, `0.01`, `3`).
#[derive(Clone, Copy, Debug)]
pub struct Secs(pub u64);

impl fmt::Display for Secs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let whole = self.0 / 1_000_000;
        let mut frac = self.0 % 1_000_000;
        if frac == 0 {
            return write!(f, "{whole}");
        }
        let mut digits = 6;
        while frac.is_multiple_of(10) {
            frac /= 10;
            digits -= 1;
        }
        write!(f, "{whole}.{frac:0digits$}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers() {
        assert_eq!(parse_uint(b"255"), Some(255));
        assert_eq!(parse_uint(b""), None);
        assert_eq!(parse_uint(b"1a"), None);
        assert_eq!(parse_uint(b"-1"), None);
        assert_eq!(parse_uint(b"99999999999999999999999"), None);
        assert_eq!(parse_int(b"-20"), Some(-20));
        assert_eq!(parse_int(b"+20"), Some(20));
        assert_eq!(parse_int(b"-"), None);
    }

    #[test]
    fn seconds() {
        assert_eq!(parse_seconds_us(b"1"), Some(1_000_000));
        assert_eq!(parse_seconds_us(b"0.1"), Some(100_000));
        assert_eq!(parse_seconds_us(b".25"), Some(250_000));
        assert_eq!(parse_seconds_us(b"2."), Some(2_000_000));
        assert_eq!(parse_seconds_us(b"0.1234567"), Some(123_456));
        assert_eq!(parse_seconds_us(b"."), None);
        assert_eq!(parse_seconds_us(b"1.x"), None);
        assert_eq!(parse_seconds_us(b"-1"), None);
    }

    #[test]
    fn secs_display() {
        assert_eq!(format!("{}", Secs(1_500_000)), "1.5");
        assert_eq!(format!("{}", Secs(10_000)), "0.01");
        assert_eq!(format!("{}", Secs(3_000_000)), "3");
        assert_eq!(format!("{}", Secs(123_456)), "0.123456");
    }

    #[test]
    fn addresses_and_bools() {
        assert!(parse_ip(b"192.0.2.1").is_some());
        assert!(parse_ip(b"2001:db8::1").is_some());
        assert!(parse_ip(b"192.0.2.256").is_none());
        assert_eq!(parse_bool_word(b"off"), Some(false));
        assert_eq!(parse_bool_word(b"maybe"), None);
    }
}
