//! The interface table: every interface the configuration names (instance
//! `interface`, `track_interface` of instances and sync groups, VIP `dev`),
//! with what the netlink dump and monitor say about it, and its VRRP
//! sockets. `config::parse` refuses a configuration naming more than
//! `MAX_INTERFACES` of them.

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use heapless::Vec;

use crate::config::model::{AddressFamily, AuthType, Config, IfName, VrrpVersion};
use crate::limits::MAX_INTERFACES;
use crate::sys::poll::{Slot, VRRP_SOCKETS_PER_INTERFACE};
use crate::sys::vrrp_sock::{Vrrp4Socket, Vrrp6Socket};
use crate::vrrp::DropLog;
use crate::wire::netlink::{AF_INET, AF_INET6, AddrInfo, IFA_F_SECONDARY, LinkInfo};

/// One interface.
pub struct Iface {
    pub name: IfName,
    /// 0: not present (yet).
    pub ifindex: u32,
    pub mac: Option<[u8; 6]>,
    /// `IFF_UP && IFF_RUNNING`.
    pub up: bool,
    /// The primary IPv4 address (not secondary, not one of our VIPs).
    pub v4: Option<Ipv4Addr>,
    /// An IPv6 link-local address (the VRRPv3 IPv6 advert source).
    pub ll6: Option<Ipv6Addr>,
    /// `net.ipv6.conf.IF.forwarding`: NAs carry the Router flag.
    pub forwarding6: bool,
    pub sock4: Option<(Vrrp4Socket, Slot)>,
    pub sock6: Option<(Vrrp6Socket, Slot)>,
    /// IP protocol 51, for VRRPv2 instances with `auth_type AH`.
    pub sock_ah: Option<(Vrrp4Socket, Slot)>,
    /// The ifindex the sockets were opened on.
    pub sock_ifindex: u32,
    pub joined4: Option<Ipv4Addr>,
    pub joined6: Option<Ipv6Addr>,
    pub joined_ah: Option<Ipv4Addr>,
    /// Some instance sends/receives this family here (multicast or unicast).
    pub want4: bool,
    pub want6: bool,
    /// Some IPv4 instance with `auth_type AH` is here (multicast or unicast).
    pub want_ah: bool,
    /// Some multicast instance of this family: join the group.
    pub mcast4: bool,
    pub mcast6: bool,
    pub mcast_ah: bool,
    /// The up/down state changed: tell the router.
    pub link_dirty: bool,
    /// The primary addresses changed: re-set the instances' source address.
    pub addr_dirty: bool,
    /// The ifindex changed or vanished: reopen the sockets.
    pub reopen: bool,
    /// VRIDs of unknown adverts already logged (one bit each).
    pub vrid_logged: [u64; 4],
    /// The receive path's budget for per-packet debug lines (`-D`).
    pub rx_log: DropLog,
}

impl Iface {
    pub fn new(name: IfName) -> Iface {
        Iface {
            name,
            ifindex: 0,
            mac: None,
            up: false,
            v4: None,
            ll6: None,
            forwarding6: false,
            sock4: None,
            sock6: None,
            sock_ah: None,
            sock_ifindex: 0,
            joined4: None,
            joined6: None,
            joined_ah: None,
            want4: false,
            want6: false,
            want_ah: false,
            mcast4: false,
            mcast6: false,
            mcast_ah: false,
            link_dirty: false,
            addr_dirty: false,
            reopen: false,
            vrid_logged: [0; 4],
            rx_log: DropLog::default(),
        }
    }

    /// Closes the VRRP sockets (IPv4, IPv6, AH) and returns their poll
    /// slots, to be removed from the poll table. The array has one entry per
    /// socket kind: the poll table reserves as many slots per interface.
    pub fn take_sockets(&mut self) -> [Option<Slot>; VRRP_SOCKETS_PER_INTERFACE] {
        [
            self.sock4.take().map(|(_, s)| s),
            self.sock6.take().map(|(_, s)| s),
            self.sock_ah.take().map(|(_, s)| s),
        ]
    }

    /// True the first time VRID `vrid` is seen here (for log-once).
    pub fn first_unknown_vrid(&mut self, vrid: u8) -> bool {
        let (w, b) = (usize::from(vrid / 64), vrid % 64);
        let first = self.vrid_logged[w] & (1 << b) == 0;
        self.vrid_logged[w] |= 1 << b;
        first
    }
}

pub type Ifaces = Vec<Iface, MAX_INTERFACES>;

/// Index of `name` in the table.
pub fn find(ifaces: &Ifaces, name: &str) -> Option<usize> {
    ifaces.iter().position(|i| i.name.as_str() == name)
}

pub fn find_by_index(ifaces: &Ifaces, ifindex: u32) -> Option<usize> {
    if ifindex == 0 {
        return None;
    }
    ifaces.iter().position(|i| i.ifindex == ifindex)
}

/// Adds every interface `cfg` names (keeping existing entries) and
/// recomputes the want/mcast flags. Returns how many entries were added, or
/// `Err(name)` when the table is full.
pub fn register(ifaces: &mut Ifaces, cfg: &Config) -> Result<usize, IfName> {
    let mut added = 0;
    for i in ifaces.iter_mut() {
        i.want4 = false;
        i.want6 = false;
        i.want_ah = false;
        i.mcast4 = false;
        i.mcast6 = false;
        i.mcast_ah = false;
    }
    let mut add = |ifaces: &mut Ifaces, name: &IfName| -> Result<usize, IfName> {
        if let Some(i) = find(ifaces, name) {
            return Ok(i);
        }
        ifaces
            .push(Iface::new(name.clone()))
            .map_err(|_| name.clone())?;
        added += 1;
        Ok(ifaces.len() - 1)
    };
    for c in &cfg.instances {
        let i = add(ifaces, &c.interface)?;
        let mc = !c.is_unicast();
        if let Some(f) = ifaces.get_mut(i) {
            let ah = c.authentication.auth_type == AuthType::Ah && c.version == VrrpVersion::V2;
            match c.family {
                // AH adverts are IP protocol 51: their own socket.
                AddressFamily::Ipv4 if ah => {
                    f.want_ah = true;
                    f.mcast_ah |= mc;
                }
                AddressFamily::Ipv4 => {
                    f.want4 = true;
                    f.mcast4 |= mc;
                }
                AddressFamily::Ipv6 => {
                    f.want6 = true;
                    f.mcast6 |= mc;
                }
            }
        }
        for t in &c.track_interface {
            add(ifaces, &t.ifname)?;
        }
        for v in c
            .virtual_ipaddress
            .iter()
            .chain(c.virtual_ipaddress_excluded.iter())
        {
            if let Some(d) = &v.dev {
                add(ifaces, d)?;
            }
        }
    }
    // A sync group's track_interface applies to its members (the router
    // watches it for them): its link events must reach the router too.
    for g in cfg.sync_groups.iter().filter(|g| !g.members.is_empty()) {
        for t in &g.track_interface {
            add(ifaces, &t.ifname)?;
        }
    }
    Ok(added)
}

/// True when `cfg` names interface `name` (what [`register`] adds).
pub fn named(cfg: &Config, name: &str) -> bool {
    cfg.instances.iter().any(|c| {
        c.interface.as_str() == name
            || c.track_interface.iter().any(|t| t.ifname.as_str() == name)
            || c.virtual_ipaddress
                .iter()
                .chain(c.virtual_ipaddress_excluded.iter())
                .any(|v| v.dev.as_ref().is_some_and(|d| d.as_str() == name))
    }) || cfg
        .sync_groups
        .iter()
        .filter(|g| !g.members.is_empty())
        .any(|g| g.track_interface.iter().any(|t| t.ifname.as_str() == name))
}

/// Drops the entries `cfg` no longer names (after a reload, once the old
/// configuration's instances are stopped), so that a series of reloads
/// naming different interfaces never fills the table. Returns the poll
/// slots of the closed sockets, each to be removed from the poll table
/// (`drop_slot`), and how many entries went.
pub fn prune(ifaces: &mut Ifaces, cfg: &Config, mut drop_slot: impl FnMut(Slot)) -> usize {
    let mut removed = 0;
    let mut i = 0;
    while i < ifaces.len() {
        if named(cfg, ifaces[i].name.as_str()) {
            i += 1;
            continue;
        }
        // Entries are looked up by name or ifindex each turn, never kept
        // by position: swap_remove is safe between turns.
        let mut gone = ifaces.swap_remove(i);
        for slot in gone.take_sockets().into_iter().flatten() {
            drop_slot(slot);
        }
        removed += 1;
    }
    removed
}

/// True when `addr` is a VIP of some instance of `cfg`.
pub fn is_vip(cfg: &Config, addr: IpAddr) -> bool {
    cfg.instances.iter().any(|c| {
        c.virtual_ipaddress
            .iter()
            .chain(c.virtual_ipaddress_excluded.iter())
            .any(|v| v.addr == addr)
    })
}

/// RTM_NEWLINK.
pub fn on_new_link(ifaces: &mut Ifaces, l: &LinkInfo<'_>) {
    // An interface renamed away from a name we watch: it is gone for us.
    for i in ifaces.iter_mut() {
        if i.ifindex == l.ifindex && i.name.as_str() != l.name {
            gone(i);
        }
    }
    let Some(i) = find(ifaces, l.name).and_then(|i| ifaces.get_mut(i)) else {
        return;
    };
    if i.ifindex != l.ifindex {
        i.ifindex = l.ifindex;
        i.v4 = None;
        i.ll6 = None;
        i.reopen = true;
        i.addr_dirty = true;
    }
    if let Some(m) = l.mac() {
        i.mac = Some(m);
    }
    let up = l.is_up() && l.is_running();
    if up != i.up {
        i.up = up;
        i.link_dirty = true;
    }
}

fn gone(i: &mut Iface) {
    i.ifindex = 0;
    i.v4 = None;
    i.ll6 = None;
    i.reopen = true;
    i.addr_dirty = true;
    if i.up {
        i.up = false;
        i.link_dirty = true;
    }
}

/// RTM_DELLINK.
pub fn on_del_link(ifaces: &mut Ifaces, l: &LinkInfo<'_>) {
    if let Some(i) = find_by_index(ifaces, l.ifindex).and_then(|i| ifaces.get_mut(i)) {
        gone(i);
    }
}

/// RTM_NEWADDR: learn the primary IPv4 / link-local IPv6 address.
pub fn on_new_addr(ifaces: &mut Ifaces, cfg: &Config, a: &AddrInfo<'_>) {
    let Some(i) = find_by_index(ifaces, a.ifindex).and_then(|i| ifaces.get_mut(i)) else {
        return;
    };
    match (a.family, a.address) {
        (AF_INET, Some(IpAddr::V4(v4)))
            if i.v4.is_none() && a.flags & IFA_F_SECONDARY == 0 && !is_vip(cfg, IpAddr::V4(v4)) =>
        {
            i.v4 = Some(v4);
            i.addr_dirty = true;
        }
        (AF_INET6, Some(IpAddr::V6(v6)))
            if i.ll6.is_none() && is_link_local(v6) && !is_vip(cfg, IpAddr::V6(v6)) =>
        {
            i.ll6 = Some(v6);
            i.addr_dirty = true;
        }
        _ => {}
    }
}

/// RTM_DELADDR: forget the address if it was the one we use.
pub fn on_del_addr(ifaces: &mut Ifaces, a: &AddrInfo<'_>) {
    let Some(i) = find_by_index(ifaces, a.ifindex).and_then(|i| ifaces.get_mut(i)) else {
        return;
    };
    match a.address {
        Some(IpAddr::V4(v4)) if i.v4 == Some(v4) => {
            i.v4 = None;
            i.addr_dirty = true;
        }
        Some(IpAddr::V6(v6)) if i.ll6 == Some(v6) => {
            i.ll6 = None;
            i.addr_dirty = true;
        }
        _ => {}
    }
}

pub fn is_link_local(a: Ipv6Addr) -> bool {
    a.segments()[0] & 0xffc0 == 0xfe80
}

/// `/proc/sys/net/ipv6/conf/IF/forwarding` is 1 (no allocation).
pub fn ipv6_forwarding(ifname: &str) -> bool {
    use core::fmt::Write as _;
    let mut path: heapless::String<64> = heapless::String::new();
    if write!(path, "/proc/sys/net/ipv6/conf/{ifname}/forwarding").is_err() {
        return false;
    }
    let mut buf = [0u8; 1];
    matches!(crate::sys::read_prefix(path.as_bytes(), &mut buf), Ok(1) if buf[0] == b'1')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_local_and_vrid_log_once() {
        assert!(is_link_local("fe80::1".parse().unwrap()));
        assert!(!is_link_local("2001:db8::1".parse().unwrap()));
        let mut i = Iface::new(IfName::try_from("eth0").unwrap());
        assert!(i.first_unknown_vrid(200));
        assert!(!i.first_unknown_vrid(200));
        assert!(i.first_unknown_vrid(1));
    }

    /// Every name the configuration check counts against MAX_INTERFACES is
    /// registered (a sync group's track_interface included), so a
    /// configuration `-t` accepts always fits the table.
    #[test]
    fn register_takes_what_the_config_check_counts() {
        use crate::config::{Diagnostics, MemorySource, parse};
        use crate::limits::MAX_INTERFACES;
        if MAX_INTERFACES < 5 {
            return; // the configuration below names five to begin with
        }
        std::thread::scope(|sc| {
            std::thread::Builder::new()
                .stack_size(32 << 20)
                .spawn_scoped(sc, || {
                    let mut text = std::string::String::from(
                        "vrrp_instance A {\n interface e0\n virtual_router_id 1\n track_interface {\n  t0\n }\n virtual_ipaddress {\n  192.0.2.1 dev d0\n }\n}\nvrrp_instance B {\n interface e1\n virtual_router_id 2\n virtual_ipaddress {\n  192.0.2.2\n }\n}\nvrrp_sync_group G {\n group {\n  A\n  B\n }\n track_interface {\n  g0\n }\n}\n",
                    );
                    for k in 5..MAX_INTERFACES {
                        text.push_str(&format!(
                            "vrrp_instance I{k} {{\n interface x{k}\n virtual_router_id {}\n virtual_ipaddress {{\n  192.0.2.{}\n }}\n}}\n",
                            k + 2,
                            k + 2
                        ));
                    }
                    let files: [(&str, &[u8]); 1] = [("k.conf", text.as_bytes())];
                    let mut cfg = Config::new_boxed();
                    let mut d = Diagnostics::new();
                    parse(&MemorySource::new(&files), "k.conf", &mut cfg, &mut d);
                    assert_eq!(d.errors, 0);
                    let mut t = Ifaces::new();
                    assert_eq!(register(&mut t, &cfg), Ok(MAX_INTERFACES));
                    for name in ["e0", "e1", "t0", "d0", "g0"] {
                        assert!(find(&t, name).is_some(), "{name}");
                    }
                })
                .unwrap()
                .join()
                .unwrap()
        });
    }

    /// Reloads that name other interfaces do not fill the table: what the
    /// running configuration no longer names is dropped, sockets and all.
    #[test]
    fn prune_drops_what_the_new_configuration_does_not_name() {
        use crate::config::{Diagnostics, MemorySource, parse};
        std::thread::scope(|sc| {
            std::thread::Builder::new()
                .stack_size(32 << 20)
                .spawn_scoped(sc, || {
                    let conf = |ifname: &str| {
                        std::format!(
                            "vrrp_instance A {{\n interface {ifname}\n virtual_router_id 1\n track_interface {{\n  keep0\n }}\n virtual_ipaddress {{\n  192.0.2.1\n }}\n}}\n"
                        )
                    };
                    let parsed = |text: std::string::String| {
                        let files: [(&str, &[u8]); 1] = [("k.conf", text.as_bytes())];
                        let mut cfg = Config::new_boxed();
                        let mut d = Diagnostics::new();
                        parse(&MemorySource::new(&files), "k.conf", &mut cfg, &mut d);
                        assert_eq!(d.errors, 0);
                        cfg
                    };
                    let mut t = Ifaces::new();
                    // Far more reloads than the table has entries.
                    for k in 0..(2 * MAX_INTERFACES + 3) {
                        let cfg = parsed(conf(&std::format!("if{k}")));
                        register(&mut t, &cfg).expect("the table never fills");
                        let mut slots = 0;
                        let dropped = prune(&mut t, &cfg, |_| slots += 1);
                        assert_eq!(dropped, usize::from(k > 0), "reload {k}");
                        assert_eq!(slots, 0, "no socket was open");
                        assert_eq!(t.len(), 2);
                        assert!(find(&t, &std::format!("if{k}")).is_some());
                        assert!(find(&t, "keep0").is_some());
                        assert!(named(&cfg, "keep0") && !named(&cfg, "if9999"));
                    }
                })
                .unwrap()
                .join()
                .unwrap()
        });
    }

    #[test]
    fn link_events_update_state() {
        let mut t = Ifaces::new();
        t.push(Iface::new(IfName::try_from("eth0").unwrap()))
            .ok()
            .unwrap();
        let mut l = LinkInfo {
            ifindex: 7,
            flags: crate::wire::netlink::IFF_UP | crate::wire::netlink::IFF_RUNNING,
            name: "eth0",
            operstate: None,
            hwaddr: &[2, 0, 0, 0, 0, 1],
            mtu: None,
        };
        on_new_link(&mut t, &l);
        assert_eq!(t[0].ifindex, 7);
        assert!(t[0].up && t[0].link_dirty && t[0].reopen);
        assert_eq!(t[0].mac, Some([2, 0, 0, 0, 0, 1]));
        t[0].link_dirty = false;
        l.flags = crate::wire::netlink::IFF_UP; // no carrier
        on_new_link(&mut t, &l);
        assert!(!t[0].up && t[0].link_dirty);
        on_del_link(&mut t, &l);
        assert_eq!(t[0].ifindex, 0);
    }
}
