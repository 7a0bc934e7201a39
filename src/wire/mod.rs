//! Wire formats, smoltcp style: `Packet<T: AsRef<[u8]>>` for field access on
//! borrowed bytes, `Repr` for the parsed high-level form, `parse`/`emit`.
//! Byte order is explicit everywhere (network order for VRRP/ARP/NDP, native
//! order for netlink).

pub mod netlink;
pub mod vrrp;
