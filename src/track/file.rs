//! `vrrp_track_file`: an integer read from a file, times the weight.
//!
//! keepalived reads the file with `strtol(buf, NULL, 0)` (so `0x10` and
//! `010` are hex and octal; leading blanks and a sign are accepted; parsing
//! stops at the first other byte; an empty, unreadable or missing file is
//! 0) and clamps the value to `[-254, 254]`. The status for an instance is
//! `value * weight` (`* -1` with `reverse`), clamped to `[-254, 253]`;
//! `-254` means FAULT. With weight 0 a non-zero value means FAULT (a zero
//! value with `reverse`).

/// The status that means FAULT.
pub const FILE_FAULT: i32 = -254;

/// `strtol(s, NULL, 0)`, saturating at the `i64` range. Only the first
/// 127 bytes count (keepalived reads the file into a 128-byte buffer).
pub fn parse_strtol(s: &[u8]) -> i64 {
    let s = s.get(..127).unwrap_or(s);
    let mut i = 0;
    while s
        .get(i)
        .is_some_and(|&c| matches!(c, b' ' | b'\t' | b'\n' | b'\r' | b'\x0b' | b'\x0c'))
    {
        i += 1;
    }
    let neg = match s.get(i) {
        Some(b'-') => {
            i += 1;
            true
        }
        Some(b'+') => {
            i += 1;
            false
        }
        _ => false,
    };
    let mut base = 10u32;
    if s.get(i) == Some(&b'0') {
        let hex = matches!(s.get(i + 1), Some(b'x' | b'X'))
            && s.get(i + 2).is_some_and(|c| c.is_ascii_hexdigit());
        if hex {
            base = 16;
            i += 2;
        } else {
            base = 8;
        }
    }
    let mut v: i64 = 0;
    while let Some(d) = s.get(i).and_then(|&c| (c as char).to_digit(base)) {
        let d = i64::from(d);
        v = if neg {
            v.saturating_mul(i64::from(base)).saturating_sub(d)
        } else {
            v.saturating_mul(i64::from(base)).saturating_add(d)
        };
        i += 1;
    }
    v
}

/// The file's value as keepalived keeps it: parsed and clamped to
/// `[-254, 254]`.
pub fn file_value(contents: &[u8]) -> i32 {
    parse_strtol(contents).clamp(-254, 254) as i32
}

/// The status of a file value for one tracking reference: [`FILE_FAULT`]
/// (-254) or a priority change in `[-253, 253]`.
pub fn file_status(value: i32, weight: i16, reverse: bool) -> i32 {
    let value = value.clamp(-254, 254);
    if weight == 0 {
        return if (value != 0) != reverse {
            FILE_FAULT
        } else {
            0
        };
    }
    let mult = if reverse { -1 } else { 1 };
    let s = value.saturating_mul(i32::from(weight)).saturating_mul(mult);
    s.clamp(FILE_FAULT, 253)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strtol_like() {
        assert_eq!(parse_strtol(b""), 0);
        assert_eq!(parse_strtol(b"42\n"), 42);
        assert_eq!(parse_strtol(b"  \t-17abc"), -17);
        assert_eq!(parse_strtol(b"+5"), 5);
        assert_eq!(parse_strtol(b"0x1F"), 31);
        assert_eq!(parse_strtol(b"0X1f"), 31);
        assert_eq!(parse_strtol(b"010"), 8);
        assert_eq!(parse_strtol(b"09"), 0);
        assert_eq!(parse_strtol(b"0x"), 0);
        assert_eq!(parse_strtol(b"0xg"), 0);
        assert_eq!(parse_strtol(b"abc"), 0);
        assert_eq!(parse_strtol(b"- 3"), 0);
        assert_eq!(parse_strtol(b"99999999999999999999999"), i64::MAX);
        assert_eq!(parse_strtol(b"-99999999999999999999999"), i64::MIN);
    }

    #[test]
    fn value_clamped() {
        assert_eq!(file_value(b"1000"), 254);
        assert_eq!(file_value(b"-1000"), -254);
        assert_eq!(file_value(b"7"), 7);
    }

    #[test]
    fn weighted_status() {
        assert_eq!(file_status(5, 10, false), 50);
        assert_eq!(file_status(5, 10, true), -50);
        assert_eq!(file_status(-5, 10, false), -50);
        // Positive capped at 253.
        assert_eq!(file_status(100, 10, false), 253);
        // <= -254 is FAULT.
        assert_eq!(file_status(-254, 1, false), FILE_FAULT);
        assert_eq!(file_status(-253, 1, false), -253);
        assert_eq!(file_status(-100, 3, false), FILE_FAULT);
        assert_eq!(file_status(100, 3, true), FILE_FAULT);
        assert_eq!(file_status(0, 254, false), 0);
    }

    #[test]
    fn weight_zero_is_fault_on_non_zero() {
        assert_eq!(file_status(0, 0, false), 0);
        assert_eq!(file_status(1, 0, false), FILE_FAULT);
        assert_eq!(file_status(-3, 0, false), FILE_FAULT);
        assert_eq!(file_status(0, 0, true), FILE_FAULT);
        assert_eq!(file_status(2, 0, true), 0);
    }
}
