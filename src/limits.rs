//! Every capacity in keepvip. The numbers come from `build.rs` (overridable
//! with `KEEPVIP_<NAME>=N` at build time); the constants below derive from
//! them. Running out of any of these at config time is a config error, at run
//! time a counted drop, never a panic.

include!(concat!(env!("OUT_DIR"), "/limits.rs"));

/// Version string printed by `keepvip -v`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
/// Git revision the binary was built from (`unknown` outside a checkout).
pub const GIT_REV: &str = env!("KEEPVIP_GIT_REV");

/// Largest VRRP packet we build or accept: 8-byte header, up to 255 IPv6
/// addresses, 8 bytes of v2 authentication data.
pub const VRRP_PACKET_MAX: usize = 8 + 255 * 16 + 8;

const _: () = assert!(
    MAX_VIPS <= 255,
    "a VRRP advert carries at most 255 addresses"
);
const _: () = assert!(MAX_SYNC_GROUP_MEMBERS <= MAX_INSTANCES);
const _: () = assert!(
    MAX_NOTIFY_CMDS <= u16::MAX as usize,
    "a notify command is referenced by a u16 (config::model::CmdId)"
);
