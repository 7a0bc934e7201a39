//! Frames on the simulated segment are real bytes.
//!
//! TEMPORARY SHIM: until `wire::vrrp::Repr::emit/parse` land on main, this
//! encodes the VRRP header by hand (RFC 5798 / RFC 3768 layout, checksum
//! over the message only). Replace `encode`/`decode` with the wire codec
//! when it lands; nothing else in the simulator changes.

use core::net::IpAddr;

use keepvip::wire::vrrp::{Repr, Version};

fn checksum(b: &[u8]) -> u16 {
    let mut sum = 0u32;
    for c in b.chunks(2) {
        let w = if c.len() == 2 {
            u16::from_be_bytes([c[0], c[1]])
        } else {
            u16::from_be_bytes([c[0], 0])
        };
        sum += u32::from(w);
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

pub fn encode(r: &Repr) -> Vec<u8> {
    let mut b = Vec::with_capacity(64);
    let v = match r.version {
        Version::V2 => 2u8,
        Version::V3 => 3u8,
    };
    b.push(v << 4 | 1);
    b.push(r.vrid);
    b.push(r.priority);
    b.push(r.addr_count);
    match r.version {
        Version::V2 => {
            b.push(r.auth_type);
            b.push((r.max_adver_int_cs / 100) as u8);
        }
        Version::V3 => b.extend_from_slice(&(r.max_adver_int_cs & 0x0fff).to_be_bytes()),
    }
    b.extend_from_slice(&[0, 0]);
    for a in &r.addrs {
        match a {
            IpAddr::V4(a) => b.extend_from_slice(&a.octets()),
            IpAddr::V6(a) => b.extend_from_slice(&a.octets()),
        }
    }
    if r.version == Version::V2 {
        b.extend_from_slice(&r.auth_data);
    }
    let c = checksum(&b);
    b[6..8].copy_from_slice(&c.to_be_bytes());
    b
}

#[derive(Debug)]
pub enum DecodeError {
    Truncated,
    Checksum,
    Version,
    Type,
}

pub fn decode(b: &[u8], v6: bool) -> Result<Repr, DecodeError> {
    if b.len() < 8 {
        return Err(DecodeError::Truncated);
    }
    if checksum(b) != 0 {
        return Err(DecodeError::Checksum);
    }
    let version = match b[0] >> 4 {
        2 => Version::V2,
        3 => Version::V3,
        _ => return Err(DecodeError::Version),
    };
    if b[0] & 0x0f != 1 {
        return Err(DecodeError::Type);
    }
    let count = b[3];
    let alen = if v6 { 16 } else { 4 };
    let need = 8 + usize::from(count) * alen + if version == Version::V2 { 8 } else { 0 };
    if b.len() != need {
        return Err(DecodeError::Truncated);
    }
    let mut addrs = heapless::Vec::new();
    for i in 0..usize::from(count) {
        let s = &b[8 + i * alen..8 + (i + 1) * alen];
        let a: IpAddr = if v6 {
            <[u8; 16]>::try_from(s).unwrap().into()
        } else {
            <[u8; 4]>::try_from(s).unwrap().into()
        };
        let _ = addrs.push(a);
    }
    let (interval_cs, auth_type, mut auth_data) = match version {
        Version::V2 => (u16::from(b[5]) * 100, b[4], [0u8; 8]),
        Version::V3 => (u16::from_be_bytes([b[4], b[5]]) & 0x0fff, 0, [0u8; 8]),
    };
    if version == Version::V2 {
        auth_data.copy_from_slice(&b[b.len() - 8..]);
    }
    Ok(Repr {
        version,
        vrid: b[1],
        priority: b[2],
        max_adver_int_cs: interval_cs,
        addr_count: count,
        addrs,
        auth_type,
        auth_data,
    })
}
