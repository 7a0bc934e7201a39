//! Building resolved configurations in tests (shared by scenarios and the simulator).
#![allow(dead_code)]

use core::net::IpAddr;

use keepvip::config::model::*;

/// An instance `name` on eth0 with keepalived's defaults and one VIP.
pub fn instance(name: &str, vrid: u8, version: VrrpVersion, vip: IpAddr) -> InstanceConfig {
    let g = GlobalDefs::default();
    let mut c = InstanceConfig::new(Name::try_from(name).unwrap(), Span::default(), &g);
    c.interface = IfName::try_from("eth0").unwrap();
    c.virtual_router_id = vrid;
    c.version = version;
    c.family = match vip {
        IpAddr::V4(_) => AddressFamily::Ipv4,
        IpAddr::V6(_) => AddressFamily::Ipv6,
    };
    c.virtual_ipaddress.push(vip_entry(vip)).unwrap();
    c
}

pub fn vip_entry(addr: IpAddr) -> VirtualIp {
    VirtualIp {
        addr,
        prefix_len: if addr.is_ipv4() { 32 } else { 128 },
        brd: None,
        dev: None,
        scope: 0,
        label: None,
        span: Span::default(),
    }
}

/// A boxed configuration holding `instances`. `Config` is about 1 MB and a
/// debug build of `Config::new_boxed` goes through the stack, which
/// overflows the 2 MB test threads: build it on a thread with a big stack.
pub fn config(instances: impl IntoIterator<Item = InstanceConfig>) -> Box<Config> {
    let list: Vec<InstanceConfig> = instances.into_iter().collect();
    let build = move || {
        let mut c = Config::new_boxed();
        for i in list {
            c.instances.push(i).unwrap();
        }
        c
    };
    if BIG_STACK.with(|b| b.get()) {
        build()
    } else {
        on_big_stack(build)
    }
}

thread_local! {
    static BIG_STACK: core::cell::Cell<bool> = const { core::cell::Cell::new(false) };
}

/// Tells `config` that the calling thread has a big stack of its own
/// (a thread spawned with a 64 MB stack).
pub fn mark_big_stack() {
    BIG_STACK.with(|b| b.set(true));
}

/// Runs `f` on a thread with a 64 MB stack (where `config` needs no thread of its own).
pub fn on_big_stack<R: Send + 'static>(f: impl FnOnce() -> R + Send + 'static) -> R {
    std::thread::Builder::new()
        .stack_size(64 << 20)
        .spawn(move || {
            BIG_STACK.with(|b| b.set(true));
            f()
        })
        .unwrap()
        .join()
        .unwrap_or_else(|e| std::panic::resume_unwind(e))
}

/// Parses `text` as the file `k.conf` (on a big stack); no errors allowed:
/// the assertion lists them.
pub fn parse_clean(text: String) -> Box<Config> {
    on_big_stack(move || {
        let files: [(&str, &[u8]); 1] = [("k.conf", text.as_bytes())];
        let mut c = Config::new_boxed();
        let mut d = keepvip::config::Diagnostics::new();
        keepvip::config::parse(
            &keepvip::config::MemorySource::new(&files),
            "k.conf",
            &mut c,
            &mut d,
        );
        assert_eq!(
            d.errors,
            0,
            "{:?}",
            d.iter()
                .map(|x| x.display(&c).to_string())
                .collect::<Vec<_>>()
        );
        c
    })
}
