//! IPVS over generic netlink (`include/uapi/linux/ip_vs.h`), hand-rolled:
//! the family lookup (`CTRL_CMD_GETFAMILY` "IPVS"), and the service and
//! destination commands keepalived uses (`IPVS_CMD_NEW/SET/DEL_SERVICE`,
//! `IPVS_CMD_NEW/SET/DEL_DEST`), plus the replies (ACK / errno, the family
//! id).
//!
//! Layout of every request:
//!
//! ```text
//! nlmsghdr   len u32, type u16 (= family id), flags u16, seq u32, pid u32   host order
//! genlmsghdr cmd u8, version u8 (1), reserved u16
//! IPVS_CMD_ATTR_SERVICE (nested)
//!   AF u16, PROTOCOL u16, ADDR [16] (network order, IPv4 in the first 4),
//!   PORT be16, SCHED_NAME "rr\0", FLAGS {flags u32, mask u32},
//!   TIMEOUT u32, NETMASK (IPv4: the mask bytes; IPv6: prefix length u32)
//! IPVS_CMD_ATTR_DEST (nested, destination commands only)
//!   ADDR [16], PORT be16, FWD_METHOD u32, WEIGHT u32, U_THRESH u32,
//!   L_THRESH u32 [, ADDR_FAMILY u16 when it differs from the service's]
//! ```
//!
//! Netlink headers and integer attributes are in **host** byte order (the
//! code runs on big-endian MIPS too); ports and addresses are in network
//! order, as the kernel's `__be16` / `union nf_inet_addr` want. Nested
//! attributes carry `NLA_F_NESTED` (the kernel's legacy parser accepts it
//! either way). Every command asks for an ACK, so each request gets exactly
//! one reply: `NLMSG_ERROR` with 0 or `-errno`.

use core::net::IpAddr;
use heapless::String;

use super::netlink::{self as nl, MsgIter, NlaIter, align4};

pub const GENL_ID_CTRL: u16 = 0x10;
pub const CTRL_CMD_NEWFAMILY: u8 = 1;
pub const CTRL_CMD_GETFAMILY: u8 = 3;
pub const CTRL_ATTR_FAMILY_ID: u16 = 1;
pub const CTRL_ATTR_FAMILY_NAME: u16 = 2;
/// The controller's own version (what `genl-ctrl` and libnl send).
pub const CTRL_VERSION: u8 = 2;

pub const IPVS_GENL_NAME: &str = "IPVS";
pub const IPVS_GENL_VERSION: u8 = 1;

pub const IPVS_CMD_NEW_SERVICE: u8 = 1;
pub const IPVS_CMD_SET_SERVICE: u8 = 2;
pub const IPVS_CMD_DEL_SERVICE: u8 = 3;
pub const IPVS_CMD_NEW_DEST: u8 = 5;
pub const IPVS_CMD_SET_DEST: u8 = 6;
pub const IPVS_CMD_DEL_DEST: u8 = 7;
pub const IPVS_CMD_FLUSH: u8 = 17;

pub const IPVS_CMD_ATTR_SERVICE: u16 = 1;
pub const IPVS_CMD_ATTR_DEST: u16 = 2;

pub const IPVS_SVC_ATTR_AF: u16 = 1;
pub const IPVS_SVC_ATTR_PROTOCOL: u16 = 2;
pub const IPVS_SVC_ATTR_ADDR: u16 = 3;
pub const IPVS_SVC_ATTR_PORT: u16 = 4;
pub const IPVS_SVC_ATTR_FWMARK: u16 = 5;
pub const IPVS_SVC_ATTR_SCHED_NAME: u16 = 6;
pub const IPVS_SVC_ATTR_FLAGS: u16 = 7;
pub const IPVS_SVC_ATTR_TIMEOUT: u16 = 8;
pub const IPVS_SVC_ATTR_NETMASK: u16 = 9;

pub const IPVS_DEST_ATTR_ADDR: u16 = 1;
pub const IPVS_DEST_ATTR_PORT: u16 = 2;
pub const IPVS_DEST_ATTR_FWD_METHOD: u16 = 3;
pub const IPVS_DEST_ATTR_WEIGHT: u16 = 4;
pub const IPVS_DEST_ATTR_U_THRESH: u16 = 5;
pub const IPVS_DEST_ATTR_L_THRESH: u16 = 6;
pub const IPVS_DEST_ATTR_ADDR_FAMILY: u16 = 11;

/// `NLA_F_NESTED`.
pub const NLA_F_NESTED: u16 = 0x8000;
pub const NLMSG_HDR_LEN: usize = 16;
pub const GENL_HDR_LEN: usize = 4;
/// `IP_VS_CONN_F_FWD_MASK`.
pub const IP_VS_CONN_F_FWD_MASK: u32 = 0x7;

/// Largest request built here (a destination command is about 200 bytes).
pub const IPVS_MSG_MAX: usize = 256;

/// What identifies a virtual service in the kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ServiceKey {
    pub addr: IpAddr,
    /// `IPPROTO_*`.
    pub protocol: u16,
    pub port: u16,
}

impl ServiceKey {
    /// `AF_INET` / `AF_INET6`.
    pub fn af(&self) -> u16 {
        af_of(&self.addr)
    }
}

fn af_of(a: &IpAddr) -> u16 {
    match a {
        IpAddr::V4(_) => u16::from(nl::AF_INET),
        IpAddr::V6(_) => u16::from(nl::AF_INET6),
    }
}

/// A virtual service with its settings (`struct ip_vs_service_user`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ServiceSpec {
    pub key: ServiceKey,
    pub sched_name: String<15>,
    /// `IP_VS_SVC_F_*` (with `PERSISTENT` when `timeout_s > 0`).
    pub flags: u32,
    /// Persistence timeout in seconds.
    pub timeout_s: u32,
    /// IPv4: the persistence netmask as a host-order u32 (0xffffffff for
    /// /32); IPv6: the prefix length (128).
    pub netmask: u32,
}

/// A real server of a service (`struct ip_vs_dest_user`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DestSpec {
    pub addr: IpAddr,
    pub port: u16,
    /// `IP_VS_CONN_F_MASQ` 0, `TUNNEL` 2, `DROUTE` 3.
    pub fwd_method: u32,
    pub weight: u32,
    pub u_threshold: u32,
    pub l_threshold: u32,
}

/// One IPVS request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Request<'a> {
    NewService(&'a ServiceSpec),
    SetService(&'a ServiceSpec),
    DelService(&'a ServiceSpec),
    NewDest(&'a ServiceSpec, &'a DestSpec),
    SetDest(&'a ServiceSpec, &'a DestSpec),
    DelDest(&'a ServiceSpec, &'a DestSpec),
}

impl Request<'_> {
    pub fn cmd(&self) -> u8 {
        match self {
            Request::NewService(_) => IPVS_CMD_NEW_SERVICE,
            Request::SetService(_) => IPVS_CMD_SET_SERVICE,
            Request::DelService(_) => IPVS_CMD_DEL_SERVICE,
            Request::NewDest(..) => IPVS_CMD_NEW_DEST,
            Request::SetDest(..) => IPVS_CMD_SET_DEST,
            Request::DelDest(..) => IPVS_CMD_DEL_DEST,
        }
    }
}

/// Why bytes could not be built or were rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// The output buffer is too small.
    BufferTooSmall,
    /// A netlink header or attribute failed its length checks.
    Netlink(nl::Error),
    /// The reply has no `CTRL_ATTR_FAMILY_ID`.
    NoFamilyId,
    /// A reply of an unexpected type.
    UnexpectedType(u16),
    /// A request without an attribute it must have (`IPVS_CMD_ATTR_*`, or
    /// an `IPVS_SVC_ATTR_*` / `IPVS_DEST_ATTR_*` inside them).
    MissingAttr(u16),
    /// An attribute whose value has the wrong size or content.
    BadAttr(u16),
    /// Not one of the IPVS set commands [`emit`] builds.
    UnknownCmd(u8),
}

impl From<nl::Error> for Error {
    fn from(e: nl::Error) -> Self {
        Error::Netlink(e)
    }
}

/// Appends netlink bytes into a caller buffer, with nesting.
struct Writer<'b> {
    buf: &'b mut [u8],
    len: usize,
}

impl Writer<'_> {
    fn put(&mut self, bytes: &[u8]) -> Result<(), Error> {
        let end = self
            .len
            .checked_add(bytes.len())
            .ok_or(Error::BufferTooSmall)?;
        self.buf
            .get_mut(self.len..end)
            .ok_or(Error::BufferTooSmall)?
            .copy_from_slice(bytes);
        self.len = end;
        Ok(())
    }

    fn pad(&mut self) -> Result<(), Error> {
        let n = align4(self.len) - self.len;
        self.put(&[0u8; 3][..n])
    }

    fn attr(&mut self, kind: u16, value: &[u8]) -> Result<(), Error> {
        let len = u16::try_from(4 + value.len()).map_err(|_| Error::BufferTooSmall)?;
        self.put(&len.to_ne_bytes())?;
        self.put(&kind.to_ne_bytes())?;
        self.put(value)?;
        self.pad()
    }

    fn u16_attr(&mut self, kind: u16, v: u16) -> Result<(), Error> {
        self.attr(kind, &v.to_ne_bytes())
    }

    fn u32_attr(&mut self, kind: u16, v: u32) -> Result<(), Error> {
        self.attr(kind, &v.to_ne_bytes())
    }

    /// Starts a nested attribute; returns where its header is.
    fn nest(&mut self, kind: u16) -> Result<usize, Error> {
        let at = self.len;
        self.put(&[0, 0])?;
        self.put(&(kind | NLA_F_NESTED).to_ne_bytes())?;
        Ok(at)
    }

    fn nest_end(&mut self, at: usize) -> Result<(), Error> {
        let len = u16::try_from(self.len - at).map_err(|_| Error::BufferTooSmall)?;
        self.buf[at..at + 2].copy_from_slice(&len.to_ne_bytes());
        Ok(())
    }

    /// nlmsghdr + genlmsghdr.
    fn header(
        &mut self,
        msg_type: u16,
        flags: u16,
        seq: u32,
        cmd: u8,
        version: u8,
    ) -> Result<(), Error> {
        self.put(&0u32.to_ne_bytes())?;
        self.put(&msg_type.to_ne_bytes())?;
        self.put(&flags.to_ne_bytes())?;
        self.put(&seq.to_ne_bytes())?;
        self.put(&0u32.to_ne_bytes())?;
        self.put(&[cmd, version, 0, 0])
    }

    fn finish(self) -> usize {
        let len = self.len as u32;
        self.buf[0..4].copy_from_slice(&len.to_ne_bytes());
        self.len
    }
}

/// `union nf_inet_addr`: 16 bytes, IPv4 in the first four.
fn inet_addr(a: &IpAddr) -> [u8; 16] {
    let mut out = [0u8; 16];
    match a {
        IpAddr::V4(v) => out[..4].copy_from_slice(&v.octets()),
        IpAddr::V6(v) => out = v.octets(),
    }
    out
}

/// `CTRL_CMD_GETFAMILY` for "IPVS" (with ACK: an unknown family answers
/// `ENOENT`).
pub fn emit_get_family(buf: &mut [u8], seq: u32) -> Result<usize, Error> {
    let mut w = Writer { buf, len: 0 };
    w.header(
        GENL_ID_CTRL,
        nl::NLM_F_REQUEST | nl::NLM_F_ACK,
        seq,
        CTRL_CMD_GETFAMILY,
        CTRL_VERSION,
    )?;
    let mut name = [0u8; 5];
    name[..4].copy_from_slice(IPVS_GENL_NAME.as_bytes());
    w.attr(CTRL_ATTR_FAMILY_NAME, &name)?;
    Ok(w.finish())
}

fn service_attrs(w: &mut Writer<'_>, s: &ServiceSpec) -> Result<(), Error> {
    let at = w.nest(IPVS_CMD_ATTR_SERVICE)?;
    w.u16_attr(IPVS_SVC_ATTR_AF, s.key.af())?;
    w.u16_attr(IPVS_SVC_ATTR_PROTOCOL, s.key.protocol)?;
    w.attr(IPVS_SVC_ATTR_ADDR, &inet_addr(&s.key.addr))?;
    w.attr(IPVS_SVC_ATTR_PORT, &s.key.port.to_be_bytes())?;
    let mut name = [0u8; 16];
    let n = s.sched_name.len().min(15);
    name[..n].copy_from_slice(&s.sched_name.as_bytes()[..n]);
    w.attr(IPVS_SVC_ATTR_SCHED_NAME, &name[..n + 1])?;
    let mut flags = [0u8; 8];
    flags[..4].copy_from_slice(&s.flags.to_ne_bytes());
    flags[4..].copy_from_slice(&u32::MAX.to_ne_bytes());
    w.attr(IPVS_SVC_ATTR_FLAGS, &flags)?;
    w.u32_attr(IPVS_SVC_ATTR_TIMEOUT, s.timeout_s)?;
    match s.key.addr {
        // __be32: the mask in network order.
        IpAddr::V4(_) => w.attr(IPVS_SVC_ATTR_NETMASK, &s.netmask.to_be_bytes())?,
        // A prefix length, read as a plain number by the kernel.
        IpAddr::V6(_) => w.u32_attr(IPVS_SVC_ATTR_NETMASK, s.netmask)?,
    }
    w.nest_end(at)
}

fn dest_attrs(w: &mut Writer<'_>, s: &ServiceSpec, d: &DestSpec) -> Result<(), Error> {
    let at = w.nest(IPVS_CMD_ATTR_DEST)?;
    w.attr(IPVS_DEST_ATTR_ADDR, &inet_addr(&d.addr))?;
    w.attr(IPVS_DEST_ATTR_PORT, &d.port.to_be_bytes())?;
    w.u32_attr(
        IPVS_DEST_ATTR_FWD_METHOD,
        d.fwd_method & IP_VS_CONN_F_FWD_MASK,
    )?;
    w.u32_attr(IPVS_DEST_ATTR_WEIGHT, d.weight)?;
    w.u32_attr(IPVS_DEST_ATTR_U_THRESH, d.u_threshold)?;
    w.u32_attr(IPVS_DEST_ATTR_L_THRESH, d.l_threshold)?;
    let af = af_of(&d.addr);
    if af != s.key.af() {
        w.u16_attr(IPVS_DEST_ATTR_ADDR_FAMILY, af)?;
    }
    w.nest_end(at)
}

/// Builds `req` for the IPVS family `family` into `buf`; returns its length.
pub fn emit(buf: &mut [u8], family: u16, seq: u32, req: Request<'_>) -> Result<usize, Error> {
    let mut w = Writer { buf, len: 0 };
    w.header(
        family,
        nl::NLM_F_REQUEST | nl::NLM_F_ACK,
        seq,
        req.cmd(),
        IPVS_GENL_VERSION,
    )?;
    match req {
        Request::NewService(s) | Request::SetService(s) | Request::DelService(s) => {
            service_attrs(&mut w, s)?
        }
        Request::NewDest(s, d) | Request::SetDest(s, d) | Request::DelDest(s, d) => {
            service_attrs(&mut w, s)?;
            dest_attrs(&mut w, s, d)?;
        }
    }
    Ok(w.finish())
}

/// A request read back from its bytes: what the kernel would see. The
/// inverse of [`emit`], used by the daemon's tests (a fake IPVS decodes
/// what it is sent) and available for diagnostics.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodedRequest {
    /// `nlmsg_type` (the IPVS family id).
    pub family: u16,
    pub flags: u16,
    pub seq: u32,
    /// `IPVS_CMD_*`.
    pub cmd: u8,
    pub version: u8,
    pub service: ServiceSpec,
    /// Destination commands only.
    pub dest: Option<DestSpec>,
}

fn ne_u16(attr: u16, v: &[u8]) -> Result<u16, Error> {
    <[u8; 2]>::try_from(v)
        .map(u16::from_ne_bytes)
        .map_err(|_| Error::BadAttr(attr))
}

fn ne_u32(attr: u16, v: &[u8]) -> Result<u32, Error> {
    <[u8; 4]>::try_from(v)
        .map(u32::from_ne_bytes)
        .map_err(|_| Error::BadAttr(attr))
}

fn be_port(attr: u16, v: &[u8]) -> Result<u16, Error> {
    <[u8; 2]>::try_from(v)
        .map(u16::from_be_bytes)
        .map_err(|_| Error::BadAttr(attr))
}

/// `union nf_inet_addr` of family `af`.
fn inet_addr_of(attr: u16, af: u16, v: &[u8]) -> Result<IpAddr, Error> {
    let b = <[u8; 16]>::try_from(v).map_err(|_| Error::BadAttr(attr))?;
    if af == u16::from(nl::AF_INET) {
        Ok(IpAddr::from([b[0], b[1], b[2], b[3]]))
    } else if af == u16::from(nl::AF_INET6) {
        Ok(IpAddr::from(b))
    } else {
        Err(Error::BadAttr(attr))
    }
}

fn parse_service(body: &[u8]) -> Result<ServiceSpec, Error> {
    let (mut af, mut proto, mut addr, mut port) = (None, None, None, None);
    let (mut sched, mut flags, mut timeout, mut mask) = (None, None, None, None);
    for a in NlaIter::new(body) {
        let a = a?;
        let kind = a.kind();
        let v = a.into_value();
        match kind {
            IPVS_SVC_ATTR_AF => af = Some(ne_u16(IPVS_SVC_ATTR_AF, v)?),
            IPVS_SVC_ATTR_PROTOCOL => proto = Some(ne_u16(IPVS_SVC_ATTR_PROTOCOL, v)?),
            IPVS_SVC_ATTR_ADDR => addr = Some(v),
            IPVS_SVC_ATTR_PORT => port = Some(be_port(IPVS_SVC_ATTR_PORT, v)?),
            IPVS_SVC_ATTR_SCHED_NAME => {
                let end = v
                    .iter()
                    .position(|&b| b == 0)
                    .ok_or(Error::BadAttr(IPVS_SVC_ATTR_SCHED_NAME))?;
                let name = core::str::from_utf8(&v[..end])
                    .ok()
                    .and_then(|t| String::try_from(t).ok())
                    .ok_or(Error::BadAttr(IPVS_SVC_ATTR_SCHED_NAME))?;
                sched = Some(name);
            }
            IPVS_SVC_ATTR_FLAGS => {
                // struct ip_vs_flags: flags, then the mask.
                if v.len() != 8 {
                    return Err(Error::BadAttr(IPVS_SVC_ATTR_FLAGS));
                }
                flags = Some(ne_u32(IPVS_SVC_ATTR_FLAGS, &v[..4])?);
            }
            IPVS_SVC_ATTR_TIMEOUT => timeout = Some(ne_u32(IPVS_SVC_ATTR_TIMEOUT, v)?),
            IPVS_SVC_ATTR_NETMASK => mask = Some(v),
            _ => {}
        }
    }
    let af = af.ok_or(Error::MissingAttr(IPVS_SVC_ATTR_AF))?;
    let addr = inet_addr_of(
        IPVS_SVC_ATTR_ADDR,
        af,
        addr.ok_or(Error::MissingAttr(IPVS_SVC_ATTR_ADDR))?,
    )?;
    let m = mask.ok_or(Error::MissingAttr(IPVS_SVC_ATTR_NETMASK))?;
    let netmask = match addr {
        IpAddr::V4(_) => <[u8; 4]>::try_from(m)
            .map(u32::from_be_bytes)
            .map_err(|_| Error::BadAttr(IPVS_SVC_ATTR_NETMASK))?,
        IpAddr::V6(_) => ne_u32(IPVS_SVC_ATTR_NETMASK, m)?,
    };
    Ok(ServiceSpec {
        key: ServiceKey {
            addr,
            protocol: proto.ok_or(Error::MissingAttr(IPVS_SVC_ATTR_PROTOCOL))?,
            port: port.ok_or(Error::MissingAttr(IPVS_SVC_ATTR_PORT))?,
        },
        sched_name: sched.ok_or(Error::MissingAttr(IPVS_SVC_ATTR_SCHED_NAME))?,
        flags: flags.ok_or(Error::MissingAttr(IPVS_SVC_ATTR_FLAGS))?,
        timeout_s: timeout.ok_or(Error::MissingAttr(IPVS_SVC_ATTR_TIMEOUT))?,
        netmask,
    })
}

fn parse_dest(body: &[u8], svc_af: u16) -> Result<DestSpec, Error> {
    let (mut addr, mut port, mut fwd, mut weight) = (None, None, None, None);
    let (mut upper, mut lower, mut af) = (None, None, svc_af);
    for a in NlaIter::new(body) {
        let a = a?;
        let kind = a.kind();
        let v = a.into_value();
        match kind {
            IPVS_DEST_ATTR_ADDR => addr = Some(v),
            IPVS_DEST_ATTR_PORT => port = Some(be_port(IPVS_DEST_ATTR_PORT, v)?),
            IPVS_DEST_ATTR_FWD_METHOD => fwd = Some(ne_u32(IPVS_DEST_ATTR_FWD_METHOD, v)?),
            IPVS_DEST_ATTR_WEIGHT => weight = Some(ne_u32(IPVS_DEST_ATTR_WEIGHT, v)?),
            IPVS_DEST_ATTR_U_THRESH => upper = Some(ne_u32(IPVS_DEST_ATTR_U_THRESH, v)?),
            IPVS_DEST_ATTR_L_THRESH => lower = Some(ne_u32(IPVS_DEST_ATTR_L_THRESH, v)?),
            IPVS_DEST_ATTR_ADDR_FAMILY => af = ne_u16(IPVS_DEST_ATTR_ADDR_FAMILY, v)?,
            _ => {}
        }
    }
    Ok(DestSpec {
        addr: inet_addr_of(
            IPVS_DEST_ATTR_ADDR,
            af,
            addr.ok_or(Error::MissingAttr(IPVS_DEST_ATTR_ADDR))?,
        )?,
        port: port.ok_or(Error::MissingAttr(IPVS_DEST_ATTR_PORT))?,
        fwd_method: fwd.ok_or(Error::MissingAttr(IPVS_DEST_ATTR_FWD_METHOD))?,
        weight: weight.ok_or(Error::MissingAttr(IPVS_DEST_ATTR_WEIGHT))?,
        u_threshold: upper.ok_or(Error::MissingAttr(IPVS_DEST_ATTR_U_THRESH))?,
        l_threshold: lower.ok_or(Error::MissingAttr(IPVS_DEST_ATTR_L_THRESH))?,
    })
}

/// Reads a request built by [`emit`] back (the first message of `buf`).
pub fn parse_request(buf: &[u8]) -> Result<DecodedRequest, Error> {
    let msg = MsgIter::new(buf)
        .next()
        .ok_or(Error::Netlink(nl::Error::HeaderTruncated {
            needed: NLMSG_HDR_LEN,
            available: buf.len(),
        }))??;
    let p = msg.payload();
    let genl = p
        .get(..GENL_HDR_LEN)
        .ok_or(Error::Netlink(nl::Error::HeaderTruncated {
            needed: GENL_HDR_LEN,
            available: p.len(),
        }))?;
    let (cmd, version) = (genl[0], genl[1]);
    let with_dest = match cmd {
        IPVS_CMD_NEW_SERVICE | IPVS_CMD_SET_SERVICE | IPVS_CMD_DEL_SERVICE => false,
        IPVS_CMD_NEW_DEST | IPVS_CMD_SET_DEST | IPVS_CMD_DEL_DEST => true,
        c => return Err(Error::UnknownCmd(c)),
    };
    let (mut svc, mut dest) = (None, None);
    for a in NlaIter::new(&p[GENL_HDR_LEN..]) {
        let a = a?;
        match a.kind() {
            IPVS_CMD_ATTR_SERVICE => svc = Some(a.into_value()),
            IPVS_CMD_ATTR_DEST => dest = Some(a.into_value()),
            _ => {}
        }
    }
    let service = parse_service(svc.ok_or(Error::MissingAttr(IPVS_CMD_ATTR_SERVICE))?)?;
    let dest = match (with_dest, dest) {
        (false, _) => None,
        (true, None) => return Err(Error::MissingAttr(IPVS_CMD_ATTR_DEST)),
        (true, Some(d)) => Some(parse_dest(d, service.key.af())?),
    };
    Ok(DecodedRequest {
        family: msg.message_type(),
        flags: msg.flags(),
        seq: msg.seq(),
        cmd,
        version,
        service,
        dest,
    })
}

/// One reply datagram's meaning.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reply {
    /// `NLMSG_ERROR` for `seq`: 0 = done, else the errno.
    Ack { seq: u32, errno: i32 },
    /// `CTRL_CMD_NEWFAMILY`: the family id.
    Family { seq: u32, id: u16 },
}

/// Parses the first message of a reply datagram.
pub fn parse_reply(buf: &[u8]) -> Result<Reply, Error> {
    let msg = MsgIter::new(buf)
        .next()
        .ok_or(Error::Netlink(nl::Error::HeaderTruncated {
            needed: NLMSG_HDR_LEN,
            available: buf.len(),
        }))??;
    let seq = msg.seq();
    match msg.message_type() {
        nl::NLMSG_ERROR => {
            let p = msg.payload();
            let raw = p
                .get(..4)
                .ok_or(Error::Netlink(nl::Error::HeaderTruncated {
                    needed: 4,
                    available: p.len(),
                }))?;
            let code = i32::from_ne_bytes([raw[0], raw[1], raw[2], raw[3]]);
            Ok(Reply::Ack {
                seq,
                errno: code.saturating_neg(),
            })
        }
        GENL_ID_CTRL => {
            let p = msg.payload();
            let attrs = p.get(GENL_HDR_LEN..).unwrap_or(&[]);
            for a in NlaIter::new(attrs) {
                let a = a?;
                if a.kind() == CTRL_ATTR_FAMILY_ID && a.value().len() >= 2 {
                    let v = a.value();
                    return Ok(Reply::Family {
                        seq,
                        id: u16::from_ne_bytes([v[0], v[1]]),
                    });
                }
            }
            Err(Error::NoFamilyId)
        }
        t => Err(Error::UnexpectedType(t)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::net::{Ipv4Addr, Ipv6Addr};
    use std::vec::Vec;

    // Pieces of the uapi layout, in the byte order each field has.
    fn ne16(v: u16) -> [u8; 2] {
        v.to_ne_bytes()
    }
    fn ne32(v: u32) -> [u8; 4] {
        v.to_ne_bytes()
    }
    /// An attribute: nla_len, nla_type (host order), value, padding.
    fn nla(kind: u16, value: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&ne16(4 + value.len() as u16));
        v.extend_from_slice(&ne16(kind));
        v.extend_from_slice(value);
        while v.len() % 4 != 0 {
            v.push(0);
        }
        v
    }
    fn nest(kind: u16, inner: &[Vec<u8>]) -> Vec<u8> {
        let body: Vec<u8> = inner.concat();
        let mut v = Vec::new();
        v.extend_from_slice(&ne16(4 + body.len() as u16));
        v.extend_from_slice(&ne16(kind | 0x8000));
        v.extend_from_slice(&body);
        v
    }
    fn msg(family: u16, seq: u32, cmd: u8, version: u8, attrs: &[Vec<u8>]) -> Vec<u8> {
        let body: Vec<u8> = attrs.concat();
        let mut v = Vec::new();
        v.extend_from_slice(&ne32(16 + 4 + body.len() as u32));
        v.extend_from_slice(&ne16(family));
        v.extend_from_slice(&ne16(0x0001 | 0x0004)); // NLM_F_REQUEST | NLM_F_ACK
        v.extend_from_slice(&ne32(seq));
        v.extend_from_slice(&ne32(0));
        v.extend_from_slice(&[cmd, version, 0, 0]);
        v.extend_from_slice(&body);
        v
    }

    fn svc4() -> ServiceSpec {
        ServiceSpec {
            key: ServiceKey {
                addr: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 100)),
                protocol: 6,
                port: 80,
            },
            sched_name: String::try_from("rr").unwrap(),
            flags: 0x0001,
            timeout_s: 50,
            netmask: 0xffff_ff00,
        }
    }

    fn dest4() -> DestSpec {
        DestSpec {
            addr: IpAddr::V4(Ipv4Addr::new(198, 51, 100, 11)),
            port: 8080,
            fwd_method: 0,
            weight: 3,
            u_threshold: 0,
            l_threshold: 0,
        }
    }

    fn svc_attrs4() -> Vec<u8> {
        nest(
            1,
            &[
                nla(1, &ne16(2)),
                nla(2, &ne16(6)),
                nla(3, &[192, 0, 2, 100, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
                nla(4, &[0x00, 0x50]),
                nla(6, b"rr\0"),
                nla(7, &[ne32(1), ne32(0xffff_ffff)].concat()),
                nla(8, &ne32(50)),
                nla(9, &[255, 255, 255, 0]),
            ],
        )
    }

    #[test]
    fn get_family_request() {
        let mut b = [0xa5u8; 64];
        let n = emit_get_family(&mut b, 7).unwrap();
        let want = msg(0x10, 7, 3, 2, &[nla(2, b"IPVS\0")]);
        assert_eq!(&b[..n], &want[..]);
        assert_eq!(n, 32);
    }

    #[test]
    fn new_service_ipv4_bytes() {
        let mut b = [0xa5u8; IPVS_MSG_MAX];
        let s = svc4();
        let n = emit(&mut b, 0x22, 9, Request::NewService(&s)).unwrap();
        let want = msg(0x22, 9, 1, 1, &[svc_attrs4()]);
        assert_eq!(&b[..n], &want[..]);
    }

    /// The same request as literal bytes on a little-endian host (x86_64,
    /// mipsel, arm): what `strace -x` shows keepalived send.
    #[cfg(target_endian = "little")]
    #[test]
    fn new_service_ipv4_literal_little_endian() {
        let mut b = [0u8; IPVS_MSG_MAX];
        let s = svc4();
        let n = emit(&mut b, 0x22, 9, Request::NewService(&s)).unwrap();
        #[rustfmt::skip]
        let want: [u8; 104] = [
            // nlmsghdr: len 104, type 0x22, flags REQUEST|ACK, seq 9, pid 0
            0x68, 0, 0, 0,  0x22, 0,  0x05, 0,  9, 0, 0, 0,  0, 0, 0, 0,
            // genlmsghdr: NEW_SERVICE, version 1
            1, 1, 0, 0,
            // IPVS_CMD_ATTR_SERVICE | NLA_F_NESTED, len 84
            84, 0, 0x01, 0x80,
            6, 0, 1, 0,  2, 0, 0, 0,                     // AF_INET
            6, 0, 2, 0,  6, 0, 0, 0,                     // IPPROTO_TCP
            20, 0, 3, 0,  192, 0, 2, 100,  0, 0, 0, 0,  0, 0, 0, 0,  0, 0, 0, 0,
            6, 0, 4, 0,  0x00, 0x50, 0, 0,               // port 80, big-endian
            7, 0, 6, 0,  b'r', b'r', 0, 0,               // "rr\0"
            12, 0, 7, 0,  1, 0, 0, 0,  0xff, 0xff, 0xff, 0xff,
            8, 0, 8, 0,  50, 0, 0, 0,                    // timeout 50 s
            8, 0, 9, 0,  255, 255, 255, 0,               // netmask /24
        ];
        assert_eq!(&b[..n], &want[..]);
        assert_eq!(parse_request(&want).unwrap().service, s);
    }

    /// The same request as literal bytes on a big-endian host (mips, the
    /// ath79 routers): nlmsghdr, attribute headers and host-order integers
    /// are byte-swapped against the little-endian literal; the address,
    /// the port and the IPv4 netmask (network order) are not.
    #[cfg(target_endian = "big")]
    #[test]
    fn new_service_ipv4_literal_big_endian() {
        let mut b = [0u8; IPVS_MSG_MAX];
        let s = svc4();
        let n = emit(&mut b, 0x22, 9, Request::NewService(&s)).unwrap();
        #[rustfmt::skip]
        let want: [u8; 104] = [
            // nlmsghdr: len 104, type 0x22, flags REQUEST|ACK, seq 9, pid 0
            0, 0, 0, 0x68,  0, 0x22,  0, 0x05,  0, 0, 0, 9,  0, 0, 0, 0,
            // genlmsghdr: NEW_SERVICE, version 1
            1, 1, 0, 0,
            // IPVS_CMD_ATTR_SERVICE | NLA_F_NESTED, len 84
            0, 84, 0x80, 0x01,
            0, 6, 0, 1,  0, 2, 0, 0,                     // AF_INET
            0, 6, 0, 2,  0, 6, 0, 0,                     // IPPROTO_TCP
            0, 20, 0, 3,  192, 0, 2, 100,  0, 0, 0, 0,  0, 0, 0, 0,  0, 0, 0, 0,
            0, 6, 0, 4,  0x00, 0x50, 0, 0,               // port 80, big-endian
            0, 7, 0, 6,  b'r', b'r', 0, 0,               // "rr\0"
            0, 12, 0, 7,  0, 0, 0, 1,  0xff, 0xff, 0xff, 0xff,
            0, 8, 0, 8,  0, 0, 0, 50,                    // timeout 50 s
            0, 8, 0, 9,  255, 255, 255, 0,               // netmask /24
        ];
        assert_eq!(&b[..n], &want[..]);
        assert_eq!(parse_request(&want).unwrap().service, s);
    }

    /// `IPVS_CMD_DEL_DEST` (198.51.100.11:8080, weight 3, masquerade) as
    /// literal little-endian bytes.
    #[cfg(target_endian = "little")]
    #[test]
    fn del_dest_ipv4_literal_little_endian() {
        let mut b = [0u8; IPVS_MSG_MAX];
        let (s, d) = (svc4(), dest4());
        let n = emit(&mut b, 0x22, 0x0102_0304, Request::DelDest(&s, &d)).unwrap();
        #[rustfmt::skip]
        let want: [u8; 168] = [
            // nlmsghdr: len 168, type 0x22, REQUEST|ACK, seq 0x01020304
            168, 0, 0, 0,  0x22, 0,  0x05, 0,  4, 3, 2, 1,  0, 0, 0, 0,
            7, 1, 0, 0,                                  // DEL_DEST, version 1
            84, 0, 0x01, 0x80,
            6, 0, 1, 0,  2, 0, 0, 0,
            6, 0, 2, 0,  6, 0, 0, 0,
            20, 0, 3, 0,  192, 0, 2, 100,  0, 0, 0, 0,  0, 0, 0, 0,  0, 0, 0, 0,
            6, 0, 4, 0,  0x00, 0x50, 0, 0,
            7, 0, 6, 0,  b'r', b'r', 0, 0,
            12, 0, 7, 0,  1, 0, 0, 0,  0xff, 0xff, 0xff, 0xff,
            8, 0, 8, 0,  50, 0, 0, 0,
            8, 0, 9, 0,  255, 255, 255, 0,
            // IPVS_CMD_ATTR_DEST | NLA_F_NESTED, len 64
            64, 0, 0x02, 0x80,
            20, 0, 1, 0,  198, 51, 100, 11,  0, 0, 0, 0,  0, 0, 0, 0,  0, 0, 0, 0,
            6, 0, 2, 0,  0x1f, 0x90, 0, 0,               // port 8080, big-endian
            8, 0, 3, 0,  0, 0, 0, 0,                     // IP_VS_CONN_F_MASQ
            8, 0, 4, 0,  3, 0, 0, 0,                     // weight 3
            8, 0, 5, 0,  0, 0, 0, 0,
            8, 0, 6, 0,  0, 0, 0, 0,
        ];
        assert_eq!(&b[..n], &want[..]);
        let got = parse_request(&want).unwrap();
        assert_eq!((got.cmd, got.seq, got.dest), (7, 0x0102_0304, Some(d)));
    }

    /// The same `IPVS_CMD_DEL_DEST` as literal big-endian bytes.
    #[cfg(target_endian = "big")]
    #[test]
    fn del_dest_ipv4_literal_big_endian() {
        let mut b = [0u8; IPVS_MSG_MAX];
        let (s, d) = (svc4(), dest4());
        let n = emit(&mut b, 0x22, 0x0102_0304, Request::DelDest(&s, &d)).unwrap();
        #[rustfmt::skip]
        let want: [u8; 168] = [
            0, 0, 0, 168,  0, 0x22,  0, 0x05,  1, 2, 3, 4,  0, 0, 0, 0,
            7, 1, 0, 0,
            0, 84, 0x80, 0x01,
            0, 6, 0, 1,  0, 2, 0, 0,
            0, 6, 0, 2,  0, 6, 0, 0,
            0, 20, 0, 3,  192, 0, 2, 100,  0, 0, 0, 0,  0, 0, 0, 0,  0, 0, 0, 0,
            0, 6, 0, 4,  0x00, 0x50, 0, 0,
            0, 7, 0, 6,  b'r', b'r', 0, 0,
            0, 12, 0, 7,  0, 0, 0, 1,  0xff, 0xff, 0xff, 0xff,
            0, 8, 0, 8,  0, 0, 0, 50,
            0, 8, 0, 9,  255, 255, 255, 0,
            0, 64, 0x80, 0x02,
            0, 20, 0, 1,  198, 51, 100, 11,  0, 0, 0, 0,  0, 0, 0, 0,  0, 0, 0, 0,
            0, 6, 0, 2,  0x1f, 0x90, 0, 0,
            0, 8, 0, 3,  0, 0, 0, 0,
            0, 8, 0, 4,  0, 0, 0, 3,
            0, 8, 0, 5,  0, 0, 0, 0,
            0, 8, 0, 6,  0, 0, 0, 0,
        ];
        assert_eq!(&b[..n], &want[..]);
        let got = parse_request(&want).unwrap();
        assert_eq!((got.cmd, got.seq, got.dest), (7, 0x0102_0304, Some(d)));
    }

    #[test]
    fn requests_decode_back() {
        let s4 = svc4();
        let d4 = dest4();
        let s6 = ServiceSpec {
            key: ServiceKey {
                addr: IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x100)),
                protocol: 17,
                port: 53,
            },
            sched_name: String::try_from("wlc").unwrap(),
            flags: 0,
            timeout_s: 0,
            netmask: 128,
        };
        let d6 = DestSpec {
            addr: IpAddr::V4(Ipv4Addr::new(198, 51, 100, 12)),
            port: 53,
            fwd_method: 2,
            weight: 0,
            u_threshold: 10,
            l_threshold: 2,
        };
        let mut b = [0u8; IPVS_MSG_MAX];
        let cases: [(Request<'_>, u8, &ServiceSpec, Option<DestSpec>); 9] = [
            (Request::NewService(&s4), IPVS_CMD_NEW_SERVICE, &s4, None),
            (Request::SetService(&s4), IPVS_CMD_SET_SERVICE, &s4, None),
            (Request::DelService(&s4), IPVS_CMD_DEL_SERVICE, &s4, None),
            (Request::NewDest(&s4, &d4), IPVS_CMD_NEW_DEST, &s4, Some(d4)),
            (Request::SetDest(&s4, &d4), IPVS_CMD_SET_DEST, &s4, Some(d4)),
            (Request::DelDest(&s4, &d4), IPVS_CMD_DEL_DEST, &s4, Some(d4)),
            (Request::NewService(&s6), IPVS_CMD_NEW_SERVICE, &s6, None),
            (Request::NewDest(&s6, &d6), IPVS_CMD_NEW_DEST, &s6, Some(d6)),
            (Request::DelDest(&s6, &d6), IPVS_CMD_DEL_DEST, &s6, Some(d6)),
        ];
        for (i, (req, cmd, svc, dest)) in cases.into_iter().enumerate() {
            let n = emit(&mut b, 0x2a, 100 + i as u32, req).unwrap();
            let got = parse_request(&b[..n]).unwrap();
            assert_eq!(
                got,
                DecodedRequest {
                    family: 0x2a,
                    flags: nl::NLM_F_REQUEST | nl::NLM_F_ACK,
                    seq: 100 + i as u32,
                    cmd,
                    version: IPVS_GENL_VERSION,
                    service: svc.clone(),
                    dest,
                },
                "case {i}"
            );
        }
        // Cut short anywhere, or with an unknown command: an error, never a panic.
        let n = emit(&mut b, 0x2a, 1, Request::NewDest(&s4, &d4)).unwrap();
        for len in 0..n {
            let mut cut = b[..len].to_vec();
            if len >= 4 {
                cut[..4].copy_from_slice(&(len as u32).to_ne_bytes());
            }
            assert!(parse_request(&cut).is_err(), "len {len}");
        }
        let mut bad = b[..n].to_vec();
        bad[16] = IPVS_CMD_FLUSH;
        assert_eq!(parse_request(&bad), Err(Error::UnknownCmd(IPVS_CMD_FLUSH)));
        assert!(parse_request(&emit_family_request()).is_err());
    }

    fn emit_family_request() -> Vec<u8> {
        let mut b = [0u8; 64];
        let n = emit_get_family(&mut b, 1).unwrap();
        b[..n].to_vec()
    }

    #[test]
    fn dest_commands_carry_service_and_dest() {
        let mut b = [0xa5u8; IPVS_MSG_MAX];
        let s = svc4();
        let d = dest4();
        let dest = nest(
            2,
            &[
                nla(1, &[198, 51, 100, 11, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
                nla(2, &[0x1f, 0x90]),
                nla(3, &ne32(0)),
                nla(4, &ne32(3)),
                nla(5, &ne32(0)),
                nla(6, &ne32(0)),
            ],
        );
        for (req, cmd) in [
            (Request::NewDest(&s, &d), 5u8),
            (Request::SetDest(&s, &d), 6),
            (Request::DelDest(&s, &d), 7),
        ] {
            let n = emit(&mut b, 0x22, 11, req).unwrap();
            let want = msg(0x22, 11, cmd, 1, &[svc_attrs4(), dest.clone()]);
            assert_eq!(&b[..n], &want[..], "cmd {cmd}");
        }
        let n = emit(&mut b, 0x22, 12, Request::DelService(&s)).unwrap();
        assert_eq!(&b[..n], &msg(0x22, 12, 3, 1, &[svc_attrs4()])[..]);
        let n = emit(&mut b, 0x22, 12, Request::SetService(&s)).unwrap();
        assert_eq!(&b[..n], &msg(0x22, 12, 2, 1, &[svc_attrs4()])[..]);
    }

    #[test]
    fn ipv6_service_and_mixed_family_tunnel_dest() {
        let s = ServiceSpec {
            key: ServiceKey {
                addr: IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x100)),
                protocol: 17,
                port: 53,
            },
            sched_name: String::try_from("wlc").unwrap(),
            flags: 0,
            timeout_s: 0,
            netmask: 128,
        };
        let d = DestSpec {
            addr: IpAddr::V4(Ipv4Addr::new(198, 51, 100, 12)),
            port: 53,
            fwd_method: 2,
            weight: 0,
            u_threshold: 10,
            l_threshold: 2,
        };
        let mut b = [0u8; IPVS_MSG_MAX];
        let n = emit(&mut b, 0x30, 1, Request::NewDest(&s, &d)).unwrap();
        let svc = nest(
            1,
            &[
                nla(1, &ne16(10)),
                nla(2, &ne16(17)),
                nla(
                    3,
                    &[
                        0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x00,
                    ],
                ),
                nla(4, &[0, 53]),
                nla(6, b"wlc\0"),
                nla(7, &[ne32(0), ne32(0xffff_ffff)].concat()),
                nla(8, &ne32(0)),
                nla(9, &ne32(128)),
            ],
        );
        let dest = nest(
            2,
            &[
                nla(1, &[198, 51, 100, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
                nla(2, &[0, 53]),
                nla(3, &ne32(2)),
                nla(4, &ne32(0)),
                nla(5, &ne32(10)),
                nla(6, &ne32(2)),
                nla(11, &ne16(2)),
            ],
        );
        assert_eq!(&b[..n], &msg(0x30, 1, 5, 1, &[svc, dest])[..]);
    }

    #[test]
    fn too_small_buffers_fail_cleanly() {
        let s = svc4();
        let d = dest4();
        for len in 0..120 {
            let mut b = std::vec![0u8; len];
            assert_eq!(
                emit(&mut b, 0x22, 1, Request::NewDest(&s, &d)),
                Err(Error::BufferTooSmall),
                "len {len}"
            );
        }
    }

    #[test]
    fn replies() {
        // ACK (error 0) and ENOENT for seq 5.
        for (code, errno) in [(0i32, 0i32), (-2, 2)] {
            let mut v = Vec::new();
            v.extend_from_slice(&ne32(36));
            v.extend_from_slice(&ne16(2));
            v.extend_from_slice(&ne16(0x100));
            v.extend_from_slice(&ne32(5));
            v.extend_from_slice(&ne32(1234));
            v.extend_from_slice(&code.to_ne_bytes());
            // The echoed request header.
            v.extend_from_slice(&[0u8; 16]);
            assert_eq!(parse_reply(&v), Ok(Reply::Ack { seq: 5, errno }));
        }
        // CTRL_CMD_NEWFAMILY with the id first and the name after.
        let body = [nla(1, &ne16(0x22)), nla(2, b"IPVS\0")].concat();
        let mut v = Vec::new();
        v.extend_from_slice(&ne32(16 + 4 + body.len() as u32));
        v.extend_from_slice(&ne16(0x10));
        v.extend_from_slice(&ne16(0));
        v.extend_from_slice(&ne32(8));
        v.extend_from_slice(&ne32(0));
        v.extend_from_slice(&[1, 2, 0, 0]);
        v.extend_from_slice(&body);
        assert_eq!(parse_reply(&v), Ok(Reply::Family { seq: 8, id: 0x22 }));
        // Truncated, or nonsense.
        assert!(parse_reply(&v[..10]).is_err());
        assert!(parse_reply(&[]).is_err());
        let mut bad = v.clone();
        bad[4..6].copy_from_slice(&ne16(0x99));
        assert_eq!(parse_reply(&bad), Err(Error::UnexpectedType(0x99)));
    }
}
