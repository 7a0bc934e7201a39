#!/usr/bin/env bash
# board/tests/test_init.sh - checks of the OpenWrt init script and hotplug hook on a build host:
#   1. sh -n (dash, busybox ash) and shellcheck on every shell file under board/
#   2. the procd init script run against a stub rc.common/procd library (stub-rc.common) that
#      records every procd_* call: the generated command line and instance parameters
#   3. reload: keepvip -t gate
#   4. hotplug-notify: the hotplug-call environment (keepalived-compatible)
#   5. keepalived-rpc.sh: the pidof wrapper that lets rpcd's `keepalived dump` read keepvip,
#      driven like the keepalived package's rpcd plugin drives it (rm, pidof, kill -37, cat)
# Installs shellcheck and busybox with apt-get if they are missing. Exit 0 = all passed.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BOARD=$(dirname "$HERE")
INIT=$BOARD/openwrt/files/keepvip.init
HOOK=$BOARD/openwrt/files/hotplug-notify
RPC=$BOARD/openwrt/files/keepalived-rpc.sh
DEFCONF=$BOARD/openwrt/files/keepvip.conf
STUB=$HERE/stub-rc.common

PASS=0; FAIL=0
ok()   { PASS=$((PASS + 1)); printf 'ok   %s\n' "$*"; }
fail() { FAIL=$((FAIL + 1)); printf 'FAIL %s\n' "$*"; }
check_eq() {  # check_eq NAME EXPECTED ACTUAL
    if [ "$2" = "$3" ]; then ok "$1"; else
        fail "$1"; diff -u <(printf '%s\n' "$2") <(printf '%s\n' "$3") | sed 's/^/     /' || true
    fi
}

need() {  # need COMMAND PACKAGE
    command -v "$1" >/dev/null 2>&1 && return 0
    echo "installing $2 (for $1)"
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 -q install -y --no-install-recommends "$2" >/dev/null ||
        { apt-get -o DPkg::Lock::Timeout=600 -q update >/dev/null &&
          DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 -q install -y --no-install-recommends "$2" >/dev/null; }
}
need shellcheck shellcheck
need busybox busybox

TMP=$(mktemp -d /tmp/kvb-init.XXXXXX)
trap 'rm -rf "$TMP"' EXIT

# ---------------------------------------------------------------- 1. syntax + shellcheck
SHELLS=(dash "busybox sh")
for f in "$INIT" "$HOOK" "$STUB" "$RPC"; do
    for sh in "${SHELLS[@]}"; do
        if $sh -n "$f"; then ok "$sh -n $(basename "$f")"; else fail "$sh -n $(basename "$f")"; fi
    done
done
# POSIX sh files as sh, the rest (bash scripts) as bash
if shellcheck -s sh "$INIT" "$HOOK" "$STUB" "$RPC"; then ok "shellcheck -s sh init, hook, stub, rpc"; else fail "shellcheck -s sh init, hook, stub, rpc"; fi
mapfile -t BASH_FILES < <(find "$BOARD" -name '*.sh' -type f | sort)
if shellcheck -x "${BASH_FILES[@]}"; then ok "shellcheck ${#BASH_FILES[@]} board/**/*.sh scripts"; else fail "shellcheck board/**/*.sh"; fi

# ---------------------------------------------------------------- 2. start_service via stub procd
# a fake keepvip: records its arguments, `-t` succeeds unless FAKE_T_FAIL=1
FAKE=$TMP/keepvip
cat > "$FAKE" <<'FAKE_EOF'
#!/bin/sh
echo "keepvip $*" >> "$FAKE_LOG"
[ "${FAKE_T_FAIL:-0}" = 1 ] && [ "$1" = -t ] && { echo "keepvip: config error" >&2; exit 3; }
exit 0
FAKE_EOF
chmod +x "$FAKE"
export FAKE_LOG=$TMP/fake.log

# the config with the example instance uncommented (also used by board/ci.sh for keepvip -t)
EXAMPLE=$TMP/example.conf
"$HERE/extract-example.sh" "$DEFCONF" > "$EXAMPLE"
if grep -q '^[[:space:]]*vrrp_instance LAN {' "$EXAMPLE" && ! grep -q '^#' "$EXAMPLE"; then
    ok "example instance extracted from keepvip.conf"; else fail "example instance extraction"; fi

# a configuration with only a virtual_server (no vrrp_instance), and one with it commented out
LVSONLY=$TMP/lvs-only.conf
cat > "$LVSONLY" <<'LVS_EOF'
! health checks only: the virtual server's address is no VIP
virtual_server 198.51.100.50 80 {
    delay_loop 6
    lb_algo rr
    lb_kind NAT
    protocol TCP
    real_server 198.51.100.11 80 {
        TCP_CHECK {
            connect_timeout 3
        }
    }
}
LVS_EOF
sed 's/^/#/' "$LVSONLY" > "$TMP/lvs-comment.conf"
LVSCOMMENT=$TMP/lvs-comment.conf

for sh in "${SHELLS[@]}"; do
    tag="[$sh]"
    # the script's own paths
    vars=$(PROCD_LOG=$TMP/unused $sh "$STUB" "$INIT" printvars)
    check_eq "$tag init defaults" "PROG=/usr/sbin/keepvip
CONF_FILE=/etc/keepvip/keepvip.conf
START=70
STOP=01" "$vars"

    # start with a configuration that has instances: one procd instance, exact parameters
    export PROCD_LOG=$TMP/procd.log; : > "$PROCD_LOG"; : > "$FAKE_LOG"
    STUB_PROG=/usr/sbin/keepvip STUB_CONF_FILE=$EXAMPLE $sh "$STUB" "$INIT" start
    check_eq "$tag start: procd calls" "open_service [keepvip.init] [$INIT]
open_instance [keepvip]
set_param [command] [/usr/sbin/keepvip] [-n] [-l] [-f] [$EXAMPLE]
set_param [respawn]
set_param [stdout] [1]
set_param [stderr] [1]
set_param [reload_signal] [HUP]
set_param [term_timeout] [5]
set_param [file] [$EXAMPLE]
close_instance
close_service [set]" "$(cat "$PROCD_LOG")"
    check_eq "$tag start does not run keepvip itself" "" "$(cat "$FAKE_LOG")"

    # the packaged default (example commented out): no instance, a message, exit 0
    : > "$PROCD_LOG"
    if out=$(STUB_CONF_FILE=$DEFCONF $sh "$STUB" "$INIT" start 2>&1); then ok "$tag start with default conf exits 0"
    else fail "$tag start with default conf exits 0"; fi
    check_eq "$tag default conf: no instance" "open_service [keepvip.init] [$INIT]
close_service [set]" "$(cat "$PROCD_LOG")"
    case "$out" in *"no vrrp_instance or virtual_server"*) ok "$tag default conf: says why" ;; *) fail "$tag default conf: says why ($out)" ;; esac

    # a load-balancing-only configuration (virtual_server blocks, no vrrp_instance): started
    : > "$PROCD_LOG"
    STUB_PROG=/usr/sbin/keepvip STUB_CONF_FILE=$LVSONLY $sh "$STUB" "$INIT" start
    check_eq "$tag virtual_server-only conf: one instance" "open_service [keepvip.init] [$INIT]
open_instance [keepvip]
set_param [command] [/usr/sbin/keepvip] [-n] [-l] [-f] [$LVSONLY]" "$(head -n3 "$PROCD_LOG")"
    # a virtual_server only mentioned in a comment does not count
    : > "$PROCD_LOG"
    STUB_CONF_FILE=$LVSCOMMENT $sh "$STUB" "$INIT" start 2>/dev/null
    check_eq "$tag commented-out virtual_server: no instance" "open_service [keepvip.init] [$INIT]
close_service [set]" "$(cat "$PROCD_LOG")"

    # reload with a good config: keepvip -t, then the same service message (procd compares
    # it and sends reload_signal HUP when the file changed)
    : > "$PROCD_LOG"; : > "$FAKE_LOG"
    if STUB_PROG=$FAKE STUB_CONF_FILE=$EXAMPLE $sh "$STUB" "$INIT" reload; then ok "$tag reload (good config) exits 0"
    else fail "$tag reload (good config) exits 0"; fi
    check_eq "$tag reload runs the config test" "keepvip -t -f $EXAMPLE" "$(cat "$FAKE_LOG")"
    check_eq "$tag reload re-sends the instance" "open_service [keepvip.init] [$INIT]
open_instance [keepvip]
set_param [command] [$FAKE] [-n] [-l] [-f] [$EXAMPLE]" "$(head -n3 "$PROCD_LOG")"

    # reload with a broken config: nothing is sent to procd (the daemon keeps running)
    : > "$PROCD_LOG"; : > "$FAKE_LOG"
    if FAKE_T_FAIL=1 STUB_PROG=$FAKE STUB_CONF_FILE=$EXAMPLE $sh "$STUB" "$INIT" reload 2>"$TMP/err"; then
        fail "$tag reload (broken config) must fail"; else ok "$tag reload (broken config) fails"; fi
    check_eq "$tag reload (broken config) leaves procd alone" "" "$(cat "$PROCD_LOG")"
    if grep -q "failed the config test" "$TMP/err"; then ok "$tag reload (broken config) says why"
    else fail "$tag reload (broken config) says why"; fi

    # stop
    : > "$PROCD_LOG"
    $sh "$STUB" "$INIT" stop
    check_eq "$tag stop" "kill [keepvip.init] []" "$(cat "$PROCD_LOG")"
done

# ---------------------------------------------------------------- 4. hotplug-notify
# env -i clears the environment, so the recorder has its output path built in
REC=$TMP/hotplug-call
cat > "$REC" <<REC_EOF
#!/bin/sh
# records what hotplug-call would see: its argument and the whole environment, sorted
{ echo "ARG=\$*"; env | grep -vE '^(PWD|SHLVL|_)=' | sort; } > "$TMP/rec.out"
REC_EOF
chmod +x "$REC"
for sh in "${SHELLS[@]}"; do
    tag="[$sh]"
    rm -f "$TMP/rec.out"
    KEEPVIP_HOTPLUG_CALL=$REC $sh "$HOOK" INSTANCE VI_1 MASTER 100
    check_eq "$tag hotplug-notify INSTANCE VI_1 MASTER 100" "ARG=keepalived
ACTION=NOTIFY_MASTER
NAME=VI_1
PRIORITY=100
TYPE=INSTANCE" "$(cat "$TMP/rec.out" 2>/dev/null)"
    rm -f "$TMP/rec.out"
    KEEPVIP_HOTPLUG_CALL=$REC $sh "$HOOK" GROUP G1 FAULT 0
    check_eq "$tag hotplug-notify GROUP G1 FAULT 0" "ARG=keepalived
ACTION=NOTIFY_FAULT
NAME=G1
PRIORITY=0
TYPE=GROUP" "$(cat "$TMP/rec.out" 2>/dev/null)"
    for bad in "INSTANCE VI_1 SLEEPING 100" "VRRP VI_1 MASTER 100" "INSTANCE VI_1" "INSTANCE VI_1 BACKUP x1"; do
        rm -f "$TMP/rec.out"
        # shellcheck disable=SC2086  # word splitting of $bad is the point
        if KEEPVIP_HOTPLUG_CALL=$REC $sh "$HOOK" $bad 2>/dev/null; then fail "$tag hotplug-notify rejects '$bad'"
        elif [ -e "$TMP/rec.out" ]; then fail "$tag hotplug-notify '$bad' called hotplug-call"
        else ok "$tag hotplug-notify rejects '$bad'"; fi
    done
done

# ---------------------------------------------------------------- 5. rpcd glue (keepalived-rpc.sh)
# fakes: pidof (what the real one would find for /usr/sbin/keepalived: FAKE_PIDOF_OUT), keepvip
# (`status -p FILE --json` prints a JSON array unless FAKE_STATUS_FAIL=1), a stand-in daemon
# (sleep) whose pid is in the pid file
FPIDOF=$TMP/fake-pidof
cat > "$FPIDOF" <<'FP_EOF'
#!/bin/sh
echo "pidof $*" >> "$FAKE_LOG"
[ -n "${FAKE_PIDOF_OUT:-}" ] || exit 1
echo "$FAKE_PIDOF_OUT"
FP_EOF
FKV=$TMP/fake-keepvip-status
cat > "$FKV" <<'FK_EOF'
#!/bin/sh
echo "keepvip $*" >> "$FAKE_LOG"
[ "${FAKE_STATUS_FAIL:-0}" = 1 ] && { echo "keepvip status: no daemon answers" >&2; exit 3; }
echo '[{"data":{"iname":"VI_1","ifp_ifname":"eth0","state":2,"last_transition":1.5},"stats":{"advert_sent":7,"advert_rcvd":0}}]'
FK_EOF
chmod +x "$FPIDOF" "$FKV"
RPCJSON=$TMP/keepalived.json
RPCPID=$TMP/keepvip.pid
# a stand-in daemon: `sleep 30`, returned once it runs sleep (a signal that came before the exec
# would hit a copy of this shell with its EXIT trap)
standin() {
    sleep 30 &
    daemon=$!
    for _ in $(seq 200); do
        case "$(readlink "/proc/$daemon/exe" 2>/dev/null)" in */sleep) return 0 ;; esac
        sleep 0.01
    done
}
# the plugin's dump sequence, run after sourcing the glue as the plugin does
# shellcheck disable=SC2016  # expanded by the child shell
PLUGIN='. "$RPC"; rm -f "$KEEPVIP_RPC_JSON"; pids=$(pidof /usr/sbin/keepalived); if [ -n "$pids" ]; then kill -37 $pids 2>/dev/null; printf "{ \"status\" : %s }" "$(cat "$KEEPVIP_RPC_JSON")"; else printf "{ }"; fi'
for sh in "${SHELLS[@]}"; do
    tag="[$sh]"
    standin
    echo "$daemon" > "$RPCPID"
    : > "$FAKE_LOG"
    out=$(RPC=$RPC KEEPVIP_BIN=$FKV KEEPVIP_PIDOF=$FPIDOF KEEPVIP_PID_FILE=$RPCPID KEEPVIP_RPC_JSON=$RPCJSON $sh -c "$PLUGIN")
    check_eq "$tag rpc: keepalived not running -> keepvip's status JSON" '{ "status" : [{"data":{"iname":"VI_1","ifp_ifname":"eth0","state":2,"last_transition":1.5},"stats":{"advert_sent":7,"advert_rcvd":0}}] }' "$out"
    check_eq "$tag rpc: asked the real pidof, then keepvip status" "pidof /usr/sbin/keepalived
keepvip status -p $RPCPID --json" "$(cat "$FAKE_LOG")"
    # the plugin's kill -37 reached the stand-in daemon (its pid came from the pid file)
    if { wait "$daemon"; } 2>/dev/null; then fail "$tag rpc: kill -37 reached keepvip"; else ok "$tag rpc: kill -37 reached keepvip"; fi
    if ls "$TMP"/keepalived.json.keepvip.* >/dev/null 2>&1; then fail "$tag rpc: temp file left"; else ok "$tag rpc: no temp file left"; fi

    # keepalived itself runs: the glue stays out of the way
    : > "$FAKE_LOG"
    # shellcheck disable=SC2016  # expanded by the child shell
    got=$(RPC=$RPC KEEPVIP_BIN=$FKV KEEPVIP_PIDOF=$FPIDOF FAKE_PIDOF_OUT=4242 $sh -c '. "$RPC"; pidof /usr/sbin/keepalived')
    check_eq "$tag rpc: keepalived running -> its pid" "4242" "$got"
    check_eq "$tag rpc: keepalived running -> keepvip not asked" "pidof /usr/sbin/keepalived" "$(cat "$FAKE_LOG")"
    # other pidof calls pass through, with the real exit status
    : > "$FAKE_LOG"
    # shellcheck disable=SC2016  # expanded by the child shell
    if RPC=$RPC KEEPVIP_BIN=$FKV KEEPVIP_PIDOF=$FPIDOF $sh -c '. "$RPC"; pidof dnsmasq'; then
        fail "$tag rpc: pidof dnsmasq (none) fails"; else ok "$tag rpc: pidof dnsmasq (none) fails"; fi
    check_eq "$tag rpc: pidof dnsmasq passes through" "pidof dnsmasq" "$(cat "$FAKE_LOG")"
    # keepvip not running (stale pid file) or not answering: nothing, like no daemon at all
    sleep 0 & daemon=$!
    wait "$daemon"
    echo "$daemon" > "$RPCPID"
    : > "$FAKE_LOG"
    out=$(RPC=$RPC KEEPVIP_BIN=$FKV KEEPVIP_PIDOF=$FPIDOF KEEPVIP_PID_FILE=$RPCPID KEEPVIP_RPC_JSON=$RPCJSON $sh -c "$PLUGIN")
    check_eq "$tag rpc: keepvip not running -> empty answer" "{ }" "$out"
    check_eq "$tag rpc: keepvip not running -> status not asked" "pidof /usr/sbin/keepalived" "$(cat "$FAKE_LOG")"
    standin
    echo "$daemon" > "$RPCPID"
    out=$(RPC=$RPC KEEPVIP_BIN=$FKV KEEPVIP_PIDOF=$FPIDOF KEEPVIP_PID_FILE=$RPCPID KEEPVIP_RPC_JSON=$RPCJSON FAKE_STATUS_FAIL=1 $sh -c "$PLUGIN")
    check_eq "$tag rpc: keepvip not answering -> empty answer" "{ }" "$out"
    if [ -e "$RPCJSON" ] || ls "$TMP"/keepalived.json.keepvip.* >/dev/null 2>&1; then fail "$tag rpc: no file when keepvip does not answer"
    else ok "$tag rpc: no file when keepvip does not answer"; fi
    kill "$daemon"; { wait "$daemon"; } 2>/dev/null || true
    # no extra ubus method: NAME_help exists and adds nothing
    # shellcheck disable=SC2016  # expanded by the child shell
    check_eq "$tag rpc: keepvip_help adds no method" "" "$($sh -c '. "$1"; keepvip_help' sh "$RPC")"
done

echo "test_init: $PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
