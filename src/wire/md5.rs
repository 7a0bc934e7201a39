//! MD5 (RFC 1321) and HMAC-MD5 (RFC 2104), just enough for VRRPv2
//! `auth_type AH` (HMAC-MD5-96, RFC 2403) as keepalived does it.
//!
//! No heap, no `unsafe`, no panics on any input. MD5 is little-endian by
//! definition: every word is read with `u32::from_le_bytes` and written with
//! `to_le_bytes`, so the result is the same on big-endian MIPS.
//!
//! MD5 is broken as a collision-resistant hash; HMAC-MD5 is still what the
//! protocol (and keepalived) uses, and it is only used here for that.

/// Length of an MD5 digest in octets.
pub const DIGEST_LEN: usize = 16;
/// MD5 block length in octets (also the HMAC key-pad length).
pub const BLOCK_LEN: usize = 64;

/// The initial chaining value (RFC 1321 §3.3, words A, B, C, D).
const INIT: [u32; 4] = [0x6745_2301, 0xefcd_ab89, 0x98ba_dcfe, 0x1032_5476];

/// `T[i] = floor(2^32 * |sin(i + 1)|)` (RFC 1321 §3.4); checked by a test.
const T: [u32; 64] = [
    0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613, 0xfd469501,
    0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821,
    0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
    0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed, 0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a,
    0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70,
    0x289b7ec6, 0xeaa127fa, 0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
    0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
    0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391,
];

/// Left-rotation amounts, four per round (RFC 1321 §3.4).
const SHIFTS: [[u32; 4]; 4] = [
    [7, 12, 17, 22],
    [5, 9, 14, 20],
    [4, 11, 16, 23],
    [6, 10, 15, 21],
];

/// Process one 64-octet block into the chaining value.
fn compress(state: &mut [u32; 4], block: &[u8; BLOCK_LEN]) {
    let mut x = [0u32; 16];
    for (word, bytes) in x.iter_mut().zip(block.chunks_exact(4)) {
        *word = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    }
    let [mut a, mut b, mut c, mut d] = *state;
    for (i, t) in T.iter().enumerate() {
        let round = i / 16;
        let (f, k) = match round {
            0 => ((b & c) | (!b & d), i),
            1 => ((b & d) | (c & !d), (5 * i + 1) % 16),
            2 => (b ^ c ^ d, (3 * i + 5) % 16),
            _ => (c ^ (b | !d), (7 * i) % 16),
        };
        let sum = a.wrapping_add(f).wrapping_add(*t).wrapping_add(x[k]);
        let rotated = sum.rotate_left(SHIFTS[round][i % 4]);
        a = d;
        d = c;
        c = b;
        b = b.wrapping_add(rotated);
    }
    state[0] = state[0].wrapping_add(a);
    state[1] = state[1].wrapping_add(b);
    state[2] = state[2].wrapping_add(c);
    state[3] = state[3].wrapping_add(d);
}

/// An incremental MD5 computation.
#[derive(Clone, Debug)]
pub struct Md5 {
    state: [u32; 4],
    block: [u8; BLOCK_LEN],
    /// Octets waiting in `block` (always < 64 between calls).
    filled: usize,
    /// Message length in octets, modulo 2^64.
    total: u64,
}

impl Default for Md5 {
    fn default() -> Self {
        Self::new()
    }
}

impl Md5 {
    pub const fn new() -> Md5 {
        Md5 {
            state: INIT,
            block: [0; BLOCK_LEN],
            filled: 0,
            total: 0,
        }
    }

    /// Append `data` to the message.
    pub fn update(&mut self, mut data: &[u8]) {
        // usize -> u64 never truncates on the targets we build for (<= 64 bits).
        self.total = self.total.wrapping_add(data.len() as u64);
        while !data.is_empty() {
            let room = BLOCK_LEN - self.filled;
            let take = room.min(data.len());
            let (head, rest) = data.split_at(take);
            if let Some(dst) = self.block.get_mut(self.filled..self.filled + take) {
                dst.copy_from_slice(head);
            }
            self.filled += take;
            data = rest;
            if self.filled == BLOCK_LEN {
                compress(&mut self.state, &self.block);
                self.filled = 0;
            }
        }
    }

    /// Pad (0x80, zeros, 64-bit little-endian bit length) and return the
    /// digest.
    pub fn finalize(mut self) -> [u8; DIGEST_LEN] {
        let bit_len = self.total.wrapping_mul(8);
        // One 0x80 octet, then zeros until 56 octets mod 64.
        let pad_len = if self.filled < 56 {
            56 - self.filled
        } else {
            120 - self.filled
        };
        let mut pad = [0u8; BLOCK_LEN + 8];
        pad[0] = 0x80;
        // `bit_len` was taken before: the padding does not count.
        self.update(pad.get(..pad_len).unwrap_or(&[]));
        self.update(&bit_len.to_le_bytes());
        let mut out = [0u8; DIGEST_LEN];
        for (bytes, word) in out.chunks_exact_mut(4).zip(self.state) {
            bytes.copy_from_slice(&word.to_le_bytes());
        }
        out
    }
}

/// MD5 of `data` in one call.
pub fn md5(data: &[u8]) -> [u8; DIGEST_LEN] {
    let mut h = Md5::new();
    h.update(data);
    h.finalize()
}

/// An incremental HMAC-MD5 computation (RFC 2104).
#[derive(Clone, Debug)]
pub struct HmacMd5 {
    inner: Md5,
    /// The key, zero-padded to a block, XORed with the outer pad (0x5c).
    outer_pad: [u8; BLOCK_LEN],
}

impl HmacMd5 {
    /// Start a MAC with `key` (keys longer than 64 octets are hashed first,
    /// as RFC 2104 says).
    pub fn new(key: &[u8]) -> HmacMd5 {
        let mut padded = [0u8; BLOCK_LEN];
        if key.len() > BLOCK_LEN {
            if let Some(dst) = padded.get_mut(..DIGEST_LEN) {
                dst.copy_from_slice(&md5(key));
            }
        } else if let Some(dst) = padded.get_mut(..key.len()) {
            dst.copy_from_slice(key);
        }
        let mut inner_pad = [0u8; BLOCK_LEN];
        let mut outer_pad = [0u8; BLOCK_LEN];
        for ((k, i), o) in padded.iter().zip(&mut inner_pad).zip(&mut outer_pad) {
            *i = k ^ 0x36;
            *o = k ^ 0x5c;
        }
        let mut inner = Md5::new();
        inner.update(&inner_pad);
        HmacMd5 { inner, outer_pad }
    }

    /// Append `data` to the message.
    pub fn update(&mut self, data: &[u8]) {
        self.inner.update(data);
    }

    /// The full 16-octet MAC (truncate it yourself for HMAC-MD5-96).
    pub fn finalize(self) -> [u8; DIGEST_LEN] {
        let inner_digest = self.inner.finalize();
        let mut outer = Md5::new();
        outer.update(&self.outer_pad);
        outer.update(&inner_digest);
        outer.finalize()
    }
}

/// HMAC-MD5 of `data` under `key` in one call.
pub fn hmac_md5(key: &[u8], data: &[u8]) -> [u8; DIGEST_LEN] {
    let mut mac = HmacMd5::new(key);
    mac.update(data);
    mac.finalize()
}

/// Compare two byte strings in time that depends only on their lengths
/// (for MACs: never stop at the first differing octet).
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    core::hint::black_box(diff) == 0
}

#[cfg(test)]
mod test {
    use super::*;

    fn hex(s: &str) -> [u8; DIGEST_LEN] {
        let mut out = [0u8; DIGEST_LEN];
        for (i, o) in out.iter_mut().enumerate() {
            *o = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap();
        }
        out
    }

    #[test]
    fn test_sine_table() {
        for (i, t) in T.iter().enumerate() {
            let expected = (((i + 1) as f64).sin().abs() * 4_294_967_296.0).floor() as u32;
            assert_eq!(*t, expected, "T[{i}]");
        }
    }

    /// RFC 1321 appendix A.5 test suite.
    #[test]
    fn test_rfc1321_suite() {
        let suite: [(&str, &str); 7] = [
            ("", "d41d8cd98f00b204e9800998ecf8427e"),
            ("a", "0cc175b9c0f1b6a831c399e269772661"),
            ("abc", "900150983cd24fb0d6963f7d28e17f72"),
            ("message digest", "f96b697d7cb7938d525a2f31aaf161d0"),
            (
                "abcdefghijklmnopqrstuvwxyz",
                "c3fcd3d76192e4007dfb496cca67e13b",
            ),
            (
                "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
                "d174ab98d277d9f5a5611c2c9f419d9f",
            ),
            (
                "12345678901234567890123456789012345678901234567890123456789012345678901234567890",
                "57edf4a22be3c955ac49da2e2107b67a",
            ),
        ];
        for (msg, digest) in suite {
            assert_eq!(md5(msg.as_bytes()), hex(digest), "MD5({msg:?})");
        }
    }

    /// Feeding the message in pieces gives the same digest, whatever the
    /// split points (block boundaries, padding into a second block).
    #[test]
    fn test_incremental_equals_one_shot() {
        let mut msg = [0u8; 200];
        for (i, b) in msg.iter_mut().enumerate() {
            *b = (i as u8).wrapping_mul(31).wrapping_add(7);
        }
        for len in [0usize, 1, 55, 56, 57, 63, 64, 65, 119, 120, 128, 200] {
            let whole = md5(&msg[..len]);
            for split in 0..=len {
                let mut h = Md5::new();
                h.update(&msg[..split]);
                h.update(&msg[split..len]);
                assert_eq!(h.finalize(), whole, "len {len} split {split}");
            }
        }
    }

    /// RFC 2202 §2, HMAC-MD5 test cases 1 to 7.
    #[test]
    fn test_rfc2202_hmac_md5() {
        let k25: [u8; 25] = core::array::from_fn(|i| i as u8 + 1);
        let cases: [(&[u8], &[u8], &str); 7] = [
            (&[0x0b; 16], b"Hi There", "9294727a3638bb1c13f48ef8158bfc9d"),
            (
                b"Jefe",
                b"what do ya want for nothing?",
                "750c783e6ab0b503eaa86e310a5db738",
            ),
            (&[0xaa; 16], &[0xdd; 50], "56be34521d144c88dbb8c733f0e8b3f6"),
            (&k25, &[0xcd; 50], "697eaf0aca3a3aea3a75164746ffaa79"),
            (
                &[0x0c; 16],
                b"Test With Truncation",
                "56461ef2342edc00f9bab995690efd4c",
            ),
            (
                &[0xaa; 80],
                b"Test Using Larger Than Block-Size Key - Hash Key First",
                "6b1ab7fe4bd7bf8f0b62e6ce61b9d0cd",
            ),
            (
                &[0xaa; 80],
                b"Test Using Larger Than Block-Size Key and Larger Than One Block-Size Data",
                "6f630fad67cda0ee1fb1f562db3aa53e",
            ),
        ];
        for (n, (key, data, digest)) in cases.iter().enumerate() {
            assert_eq!(hmac_md5(key, data), hex(digest), "RFC 2202 case {}", n + 1);
            // Incremental, byte by byte.
            let mut mac = HmacMd5::new(key);
            for b in data.iter() {
                mac.update(core::slice::from_ref(b));
            }
            assert_eq!(mac.finalize(), hex(digest), "case {} incremental", n + 1);
        }
        // Case 5 also gives the 96-bit truncation.
        let trunc = &hmac_md5(&[0x0c; 16], b"Test With Truncation")[..12];
        assert_eq!(
            trunc,
            &[
                0x56, 0x46, 0x1e, 0xf2, 0x34, 0x2e, 0xdc, 0x00, 0xf9, 0xba, 0xb9, 0x95
            ]
        );
    }

    #[test]
    fn test_key_of_exactly_one_block_is_not_hashed() {
        // A 64-octet key is used as is; hashing it would give another MAC.
        let key = [0x42u8; 64];
        let mut hashed_key = [0u8; 64];
        hashed_key[..16].copy_from_slice(&md5(&key));
        assert_ne!(hmac_md5(&key, b"x"), hmac_md5(&hashed_key, b"x"));
        // A 65-octet key is hashed first.
        let long = [0x42u8; 65];
        let mut hashed_long = [0u8; 16];
        hashed_long.copy_from_slice(&md5(&long));
        assert_eq!(hmac_md5(&long, b"x"), hmac_md5(&hashed_long, b"x"));
    }

    #[test]
    fn test_ct_eq() {
        assert!(ct_eq(b"", b""));
        assert!(ct_eq(b"abc", b"abc"));
        assert!(!ct_eq(b"abc", b"abd"));
        assert!(!ct_eq(b"abc", b"ab"));
        for i in 0..12 {
            let a = [0u8; 12];
            let mut b = a;
            b[i] = 1;
            assert!(!ct_eq(&a, &b), "octet {i}");
        }
    }
}
