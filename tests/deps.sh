#!/usr/bin/env bash
# tests/deps.sh - install what keepvip's build and test suite need on a fresh Debian 12 (as root).
# Idempotent; sourced or run by tests/run.sh and tests/lab/demo.sh.
#  - Rust: uses the cargo on PATH if its rustc is >= 1.91 (edition 2024); otherwise installs
#    Debian's cargo-web/rustc-web (1.96, bookworm-security).
#  - Test bench tools: iproute2, keepalived (the interop peer), tcpdump, tshark, ping, arping,
#    strace. keepalived's package would start a system service on install: a temporary
#    policy-rc.d forbids that, so no keepalived runs on the host except the ones tests start.
set -euo pipefail

[ "$(id -u)" = 0 ] || { echo "deps.sh: run as root (packages, network namespaces)" >&2; exit 1; }

PKGS=(iproute2 keepalived tcpdump tshark iputils-ping arping procps util-linux strace gcc g++ libc6-dev file python3-aiosmtpd)

rust_ok() {
    command -v cargo >/dev/null 2>&1 || return 1
    local v
    v=$(rustc --version 2>/dev/null | awk '{print $2}') || return 1
    [ -n "$v" ] || return 1
    [ "$(printf '%s\n%s\n' "1.91.0" "$v" | sort -V | head -n1)" = "1.91.0" ]
}
rust_ok || PKGS+=(cargo-web rustc-web)

missing=()
for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
    created_policy=0
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        created_policy=1
    fi
    export DEBIAN_FRONTEND=noninteractive
    echo "deps.sh: installing ${missing[*]}"
    apt-get -o DPkg::Lock::Timeout=600 update -q >/dev/null
    # tshark asks whether non-root users may capture; answer no without a prompt
    echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
    apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends "${missing[@]}" >/dev/null
    [ "$created_policy" = 1 ] && rm -f /usr/sbin/policy-rc.d
fi
rust_ok || { echo "deps.sh: no usable cargo (need rustc >= 1.91)" >&2; exit 1; }
