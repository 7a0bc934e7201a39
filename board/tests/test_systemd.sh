#!/usr/bin/env bash
# board/tests/test_systemd.sh - static checks of board/systemd/keepvip.service:
# `systemd-analyze verify` of the unit alone and with the non-root drop-in (any diagnostic
# fails the test: verify itself exits 0 on unknown keys), plus the settings this project
# relies on. Starts nothing.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SD=$(dirname "$HERE")/systemd
UNIT=$SD/keepvip.service

PASS=0; FAIL=0
ok()   { PASS=$((PASS + 1)); printf 'ok   %s\n' "$*"; }
fail() { FAIL=$((FAIL + 1)); printf 'FAIL %s\n' "$*"; }

if ! command -v systemd-analyze >/dev/null 2>&1; then
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 -q install -y --no-install-recommends systemd >/dev/null 2>&1 || true
fi

# settings that must be there (exact lines; $MAINPID is literal)
# shellcheck disable=SC2016
for line in 'Type=simple' \
            'ExecStart=/usr/sbin/keepvip -n -l -f /etc/keepvip/keepvip.conf -p /run/keepvip/keepvip.pid' \
            'RuntimeDirectory=keepvip' \
            'ExecReload=/bin/kill -HUP $MAINPID' \
            'PrivateTmp=no' 'ProtectSystem=strict' 'ProtectHome=yes' 'NoNewPrivileges=yes' \
            'RestrictAddressFamilies=AF_INET AF_INET6 AF_NETLINK AF_PACKET AF_UNIX'; do
    if grep -qxF -- "$line" "$UNIT"; then ok "unit has: $line"; else fail "unit lacks: $line"; fi
done
caps=$(sed -n 's/^CapabilityBoundingSet=//p' "$UNIT")
for c in CAP_NET_ADMIN CAP_NET_RAW; do
    case " $caps " in *" $c "*) ok "bounding set keeps $c" ;; *) fail "bounding set '$caps' lacks $c" ;; esac
done
if grep -qxF 'AmbientCapabilities=CAP_NET_ADMIN CAP_NET_RAW' "$SD/keepvip-nonroot.conf"; then
    ok "non-root drop-in sets ambient CAP_NET_ADMIN CAP_NET_RAW"; else fail "non-root drop-in ambient caps"; fi

if ! command -v systemd-analyze >/dev/null 2>&1; then
    echo "SKIP systemd-analyze verify: systemd-analyze not available"
else
    verify() {  # any diagnostic is a failure
        local out rc=0
        # --man=no: Documentation= points at keepalived.conf(5), which is only there when
        # keepalived's package is installed (it is not a dependency of keepvip)
        out=$(systemd-analyze verify --man=no "$TMP/keepvip.service" 2>&1) || rc=$?
        if [ "$rc" -eq 0 ] && [ -z "$out" ]; then ok "systemd-analyze verify $1"
        else fail "systemd-analyze verify $1 (rc=$rc)"; printf '     %s\n' "$out"; fi
    }
    TMP=$(mktemp -d /tmp/kvb-sd.XXXXXX)
    trap 'rm -rf "$TMP"' EXIT
    # verify checks that the executables exist: point them at a harmless one
    sed 's|/usr/sbin/keepvip|/bin/true|g' "$UNIT" > "$TMP/keepvip.service"
    verify "keepvip.service"
    mkdir -p "$TMP/keepvip.service.d"
    cp "$SD/keepvip-nonroot.conf" "$TMP/keepvip.service.d/nonroot.conf"
    verify "keepvip.service + nonroot.conf"
    rm -r "$TMP/keepvip.service.d"
    score=$(systemd-analyze security --offline=yes "$TMP/keepvip.service" 2>/dev/null | tail -n1 || true)
    echo "info: ${score#→ }"
fi

echo "test_systemd: $PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
