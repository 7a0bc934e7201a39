#!/usr/bin/env bash
# keepvip demo: two routers share the virtual IP 192.0.2.100 (VRID 51); a client pings it every
# 50 ms; the master dies; the backup takes over. Prints who is master, when the VIP moved and
# how long the client went without answers, then removes everything it created.
#
#   sudo ./tests/lab/demo.sh                 # install what is missing (tests/deps.sh), build
#                                            # keepvip (cargo build --release) and run
#   sudo IMPL=keepalived ./tests/lab/demo.sh # the same with Debian's keepalived on both routers
#
# DEMO_MODE: crash (default: kill -9 of the master daemon and its cable cut, like a power loss;
#            without the cut the dead daemon's kernel keeps answering for the stale VIP)
#            kill  (kill -9 of the daemon only)     stop (clean SIGTERM: priority-0 handover)
# Needs root. On a fresh Debian 12 it first runs tests/deps.sh (as tests/run.sh does): iproute2,
# tcpdump, tshark, ping, arping, keepalived, and a Rust toolchain if cargo is missing or too old.
# DEMO_SKIP_DEPS=1 skips that step.
set -Eeuo pipefail
IMPL=${IMPL:-keepvip}
DEMO_MODE=${DEMO_MODE:-crash}
export IMPL1=$IMPL IMPL2=$IMPL
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)

[ "$(id -u)" = 0 ] || { echo "demo.sh: run as root (network namespaces): sudo $0" >&2; exit 1; }
if [ "${DEMO_SKIP_DEPS:-0}" != 1 ]; then
    echo "checking the packages the demo needs (tests/deps.sh) ..."
    bash "$REPO/tests/deps.sh" || { echo "tests/deps.sh failed" >&2; exit 1; }
fi

if [ "$IMPL" = keepvip ] && [ -z "${KEEPVIP_BIN:-}" ]; then
    echo "building keepvip (cargo build --release) ..."
    (cd "$REPO" && cargo build --release --quiet) || { echo "cargo build failed" >&2; exit 1; }
    KEEPVIP_BIN=${CARGO_TARGET_DIR:-$REPO/target}/release/keepvip
    export KEEPVIP_BIN
fi

. "$HERE/lib.sh"

# configs: the repository's config/master.conf + config/backup.conf when they fit the lab
# (interface eth0, VIP 192.0.2.100), else the lab's own copies
MASTER_CONF=$REPO/config/master.conf
BACKUP_CONF=$REPO/config/backup.conf
for f in "$MASTER_CONF" "$BACKUP_CONF"; do
    if [ ! -f "$f" ] || ! grep -q 'interface eth0' "$f" || ! grep -q '192\.0\.2\.100' "$f"; then
        MASTER_CONF=$LAB_CONF/v2.r1.conf
        BACKUP_CONF=$LAB_CONF/v2.r2.conf
        break
    fi
done

lab_init demo 120
lab_up 2
capture_start
echo
say "r1 = $IMPL with $(basename "$MASTER_CONF") (priority 200), r2 = $IMPL with $(basename "$BACKUP_CONF") (priority 100)"
start_router r1 "$IMPL" "$MASTER_CONF"
start_router r2 "$IMPL" "$BACKUP_CONF"
wait_master r1 15
wait_backup r2 15
wait_vip "$VIP4" r1 5
client_reach "$VIP4" r1

PING_N=240
PING_OUT=$LAB_DIR/ping.txt
bg_start "$PING_OUT" c ping -D -O -n -i 0.05 -W 1 -c "$PING_N" "$VIP4"
PING_PID=$BG_PID
say "client pings $VIP4 every 50 ms ($PING_N pings)"
sleep 2

case $DEMO_MODE in
crash)
    stop_router r1 KILL
    run ip -n "$SW" link set "$(port_of r1)" down
    say "r1 crashed: daemon killed with SIGKILL and its cable cut"
    ;;
kill)
    stop_router r1 KILL
    say "r1's daemon killed with SIGKILL (r1's kernel still holds the VIP)"
    ;;
stop)
    stop_router r1 TERM
    say "r1's daemon stopped with SIGTERM"
    ;;
*) die "DEMO_MODE: crash|kill|stop" ;;
esac
t_event=$STOP_T
wait_master r2 15
if [ "$DEMO_MODE" = stop ]; then wait_vip "$VIP4" r2 5; else wait_vip "$VIP4" "r1 r2" 5; fi
wait_pid_gone "$PING_PID" 30 || die "ping did not finish"
capture_stop

echo
echo "=============================== demo timeline ($IMPL, $DEMO_MODE) ==============================="
t_m1=$(pcap_first_advert "$CAP_PCAP" r1 0)
t_last=$(pcap_last_advert "$CAP_PCAP" r1 "$t_event")
t_m2=$(pcap_first_advert "$CAP_PCAP" r2 "$t_event")
[ -n "$t_m1" ] && [ -n "$t_last" ] && [ -n "$t_m2" ] || die "incomplete capture"
t_garp=$(tshark -r "$CAP_PCAP" -Y "arp.src.proto_ipv4 == $VIP4 && arp.dst.proto_ipv4 == $VIP4 && eth.src == $(mac_of r2)" \
    -T fields -e frame.time_epoch 2>/dev/null | head -n 1)
printf '  +%8.3f s  r1 is MASTER: first advert, VIP %s on r1\n' "$(since0 "$t_m1")" "$VIP4"
printf '  +%8.3f s  r1 last advert\n' "$(since0 "$t_last")"
printf '  +%8.3f s  r1 %s\n' "$(since0 "$t_event")" "$(case $DEMO_MODE in crash) echo "crashes (kill -9 + cable cut)" ;; kill) echo "daemon killed (kill -9)" ;; stop) echo "daemon stopped (SIGTERM)" ;; esac)"
t_p0=$(pcap_prio0_advert "$CAP_PCAP" r1 "$t_m1")
[ -n "$t_p0" ] && printf '  +%8.3f s  r1 sends a priority-0 advert (resigns)\n' "$(since0 "$t_p0")"
printf '  +%8.3f s  r2 is MASTER: first advert %s ms after r1 last advert\n' "$(since0 "$t_m2")" "$(ms_between "$t_last" "$t_m2")"
[ -n "$t_garp" ] && printf '  +%8.3f s  VIP moved: r2 sends gratuitous ARP %s is-at %s\n' "$(since0 "$t_garp")" "$VIP4" "$(mac_of r2)"
# client view: replies ("[epoch] 64 bytes from ...") and the longest gap between two of them
awk -v t0="$LAB_T0" '
    /bytes from/ { gsub(/[\[\]]/, "", $1); t = $1 + 0; if (prev != "" && t - prev > gap) { gap = t - prev; g0 = prev; g1 = t } prev = t; n++ }
    /packets transmitted/ { tx = $1; rx = $4 }
    END {
        printf "  client: %d pings sent, %d answered, %d lost\n", tx, rx, tx - rx
        if (gap > 0) printf "  client: longest time without an answer %.0f ms (from +%.3f to +%.3f s)\n", gap * 1000, g0 - t0, g1 - t0
    }' "$PING_OUT"
since_reply=$(tshark -r "$CAP_PCAP" -Y "icmp.type == 0 && eth.src == $(mac_of r2)" -T fields -e frame.time_epoch 2>/dev/null | head -n 1)
[ -n "$since_reply" ] && printf '  +%8.3f s  first echo reply from r2\n' "$(since0 "$since_reply")"
echo "====================================================================================================="
echo
print_states r1 r2
timeline "$CAP_PCAP" noping
