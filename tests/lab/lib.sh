# shellcheck shell=bash
# shellcheck disable=SC2034  # variables are used by the scenario scripts that source this file
# tests/lab/lib.sh: network-namespace test bench for keepvip (and keepalived).
#
# Source it from a scenario script:   . "$(dirname "$0")/lib.sh"
#
# Topology (every name starts with $KVL, default "kvl"; the host's interfaces are never touched):
#
#   ns kvl-sw : bridge kvl-br0, one port per router/client (kvl-p1.., kvl-pc), and a mirror port
#               kvl-mon: every frame entering the bridge is copied there by tc (u32 + mirred),
#               tcpdump on kvl-mon sees each frame exactly once, with its Ethernet header.
#   ns kvl-rN : eth0 02:00:00:00:00:0N, 192.0.2.N/24, 2001:db8::N/64, fe80::ff:fe00:N
#   ns kvl-c  : eth0 02:00:00:00:00:0a, 192.0.2.10/24, 2001:db8::10/64
#   VIPs      : 192.0.2.100 (and .101 for a second instance), 2001:db8::100
#
# Routers run "keepalived" or "keepvip" (IMPL), chosen per router: scenarios read IMPL1/IMPL2.
# Every wait is bounded; a watchdog bounds the whole scenario; cleanup (trap EXIT INT TERM) stops
# only the processes this script started (by PID) and deletes only the namespaces it created.
#
# Environment knobs:
#   IMPL1, IMPL2        keepalived|keepvip (default keepalived)
#   KEEPVIP_BIN         keepvip binary (default: target/release/keepvip, else target/debug/keepvip,
#                       also looked up under $CARGO_TARGET_DIR)
#   KEEPVIP_ARGS        extra arguments for keepvip (default: none; base is -n -l -f CONF -p PIDFILE)
#   KEEPALIVED_BIN      keepalived binary (default: keepalived from PATH)
#   KVL_PREFIX          name prefix (default kvl; at most 10 characters: interface names <= 15)
#   KVL_LOCK_WAIT_S     how long to wait for another lab with the same prefix (default 240)
#   KVL_LOGDIR          where per-run directories go (default /tmp/kvl-lab)
#   KVL_TIMEOUT_S       override the scenario's global time bound
#   KVL_VERBOSE=1       echo every lab command

export LC_ALL=C
KVL=${KVL_PREFIX:-kvl}
if [ "${#KVL}" -gt 10 ]; then echo "KVL_PREFIX '$KVL' is longer than 10 characters" >&2; exit 1; fi
LAB_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LAB_CONF=$LAB_SRC/conf
LAB_REPO=$(cd "$LAB_SRC/../.." && pwd)
SW=$KVL-sw
BR=$KVL-br0
MON=$KVL-mon
CLIENT=c
VIP4=192.0.2.100
VIP4B=192.0.2.101
VIP6=2001:db8::100
IMPL1=${IMPL1:-keepalived}
IMPL2=${IMPL2:-keepalived}

LAB_NAME=
LAB_DIR=
LAB_T0=
LAB_NS=()          # namespaces created by us, in creation order
LAB_WATCHDOG=
LAB_LOCKED=
CAP_PID=
CAP_PCAP=
LAB_BG=()          # other background helpers (e.g. a long client ping), by PID
declare -A R_PID=() R_CHILD=() R_IMPL=() R_LOG=() R_STARTS=() R_CONF=()

# ---------------------------------------------------------------- messages and time

now() { printf '%s\n' "$EPOCHREALTIME"; }
# elapsed seconds since lab_init, "12.345"
since0() { awk -v a="$LAB_T0" -v b="${1:-$EPOCHREALTIME}" 'BEGIN{printf "%7.3f", b-a}'; }
say() { printf '[%s] %s\n' "$(since0)" "$*"; }
warn() { printf '[%s] WARNING: %s\n' "$(since0)" "$*" >&2; }
die() {
    printf '[%s] FAIL: %s\n' "$(since0)" "$*" >&2
    LAB_FAILED=1
    exit 1
}
# ms between two epoch timestamps (b - a), one decimal
ms_between() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.1f", (b-a)*1000}'; }
run() {
    [ "${KVL_VERBOSE:-0}" = 1 ] && printf '+ %s\n' "$*" >&2
    "$@"
}

# ---------------------------------------------------------------- process helpers

# true if PID exists and is not a zombie
pid_alive() {
    local st
    st=$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1) || return 1
    [ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}

# wait_pid_gone PID TIMEOUT_S: bounded wait for a PID to die (reaps it if it is our child)
wait_pid_gone() {
    local pid=$1 limit=$2 i=0 n
    n=$(awk -v t="$limit" 'BEGIN{printf "%d", t*50}')
    while pid_alive "$pid" && [ "$i" -lt "$n" ]; do
        sleep 0.02
        i=$((i + 1))
    done
    if pid_alive "$pid"; then return 1; fi
    { wait "$pid"; } 2>/dev/null || true
    return 0
}

# ---------------------------------------------------------------- lab life cycle

# lab_init NAME TIMEOUT_S: checks, lock, log dir, traps, watchdog
lab_init() {
    LAB_NAME=$1
    local limit=${KVL_TIMEOUT_S:-${2:-120}}
    LAB_T0=$EPOCHREALTIME
    LAB_FAILED=0
    [ "$(id -u)" = 0 ] || { echo "FAIL: $LAB_NAME needs root (network namespaces)" >&2; exit 1; }
    local t
    for t in ip tc tcpdump tshark ping arping flock awk; do
        command -v "$t" >/dev/null || { echo "FAIL: missing tool: $t" >&2; exit 1; }
    done
    for t in "$IMPL1" "$IMPL2"; do
        case $t in
        keepalived) command -v "${KEEPALIVED_BIN:-keepalived}" >/dev/null ||
            { echo "FAIL: keepalived not installed" >&2; exit 1; } ;;
        keepvip) find_keepvip >/dev/null || { echo "FAIL: keepvip binary not found (cargo build --release, or set KEEPVIP_BIN)" >&2; exit 1; } ;;
        *) echo "FAIL: unknown IMPL '$t' (keepalived|keepvip)" >&2; exit 1 ;;
        esac
    done
    LAB_DIR=${KVL_LOGDIR:-/tmp/kvl-lab}/$LAB_NAME.$IMPL1-$IMPL2.$(date +%Y%m%d-%H%M%S).$$
    mkdir -p "$LAB_DIR/run"
    trap lab_cleanup EXIT
    trap 'warn "interrupted (SIGINT)"; LAB_FAILED=1; exit 130' INT
    trap 'warn "terminated (SIGTERM)"; LAB_FAILED=1; exit 143' TERM
    trap 'lab_on_err $LINENO "$BASH_COMMAND"' ERR
    # one lab at a time per prefix: the names are fixed
    exec 9>"/run/$KVL-lab.lock"
    local lock_s=${KVL_LOCK_WAIT_S:-240}
    if ! flock -w "$lock_s" 9; then die "another lab holds /run/$KVL-lab.lock (waited ${lock_s}s)"; fi
    LAB_LOCKED=1
    # global time bound: the watchdog sends us SIGTERM, which runs the cleanup
    (
        trap 'kill "$sp" 2>/dev/null; wait "$sp"; exit 0' TERM
        sleep "$limit" &
        sp=$!
        wait "$sp"
        echo "[watchdog] $LAB_NAME exceeded ${limit}s, terminating" >&2
        kill -TERM $$
    ) &
    LAB_WATCHDOG=$!
    say "lab $LAB_NAME: IMPL1=$IMPL1 IMPL2=$IMPL2 logs in $LAB_DIR (time bound ${limit}s)"
}

lab_on_err() {
    printf '[%s] error at line %s: %s\n' "$(since0)" "$1" "$2" >&2
}

lab_cleanup() {
    local rc=$?
    trap - EXIT INT TERM ERR
    set +e
    [ "$rc" != 0 ] && LAB_FAILED=1
    local n
    # TERM every router we started at once (so their shutdowns overlap), then wait for each
    for n in "${!R_PID[@]}"; do
        if router_running "$n"; then kill -TERM "${R_PID[$n]}" 2>/dev/null; fi
    done
    for n in "${!R_PID[@]}"; do
        if ! wait_pid_gone "${R_PID[$n]}" 5; then kill -KILL "${R_PID[$n]}" 2>/dev/null; wait_pid_gone "${R_PID[$n]}" 2; fi
    done
    # keepalived children re-parented away from us: stop them by recorded PID too
    for n in "${!R_CHILD[@]}"; do
        if [ -n "${R_CHILD[$n]}" ] && pid_alive "${R_CHILD[$n]}"; then kill -KILL "${R_CHILD[$n]}" 2>/dev/null; fi
    done
    for n in "${LAB_BG[@]}"; do
        if pid_alive "$n"; then kill -TERM "$n" 2>/dev/null; wait_pid_gone "$n" 2 || kill -KILL "$n" 2>/dev/null; fi
    done
    capture_stop >/dev/null 2>&1
    local i
    for ((i = ${#LAB_NS[@]} - 1; i >= 0; i--)); do
        ip netns del "${LAB_NS[$i]}" 2>/dev/null || echo "cleanup: could not delete netns ${LAB_NS[$i]}" >&2
    done
    if [ -n "$LAB_WATCHDOG" ]; then
        kill -TERM "$LAB_WATCHDOG" 2>/dev/null
        { wait "$LAB_WATCHDOG"; } 2>/dev/null
    fi
    if [ "${LAB_FAILED:-0}" != 0 ]; then
        [ "$rc" = 0 ] && rc=1
        lab_dump_logs
        printf '[%s] %s: FAILED (rc=%s), logs kept in %s\n' "$(since0)" "$LAB_NAME" "$rc" "$LAB_DIR" >&2
    else
        printf '[%s] %s: PASS (logs in %s)\n' "$(since0)" "$LAB_NAME" "$LAB_DIR"
    fi
    exit "$rc"
}

lab_dump_logs() {
    local f
    [ -n "$LAB_DIR" ] || return 0
    for f in "$LAB_DIR"/*.log; do
        [ -f "$f" ] || continue
        echo "----- tail of $f" >&2
        tail -n 40 "$f" >&2
    done
}

netns_add() {
    local ns=$1
    if ip netns list | awk -v n="$ns" '$1 == n {f = 1} END {exit !f}'; then
        die "namespace $ns already exists (stale lab? inspect 'ip netns pids $ns', then 'ip netns del $ns')"
    fi
    run ip netns add "$ns" || die "ip netns add $ns"
    LAB_NS+=("$ns")
    run ip -n "$ns" link set lo up
}

mac_of() {
    case $1 in
    c) echo 02:00:00:00:00:0a ;;
    r[1-9]) echo "02:00:00:00:00:0${1#r}" ;;
    *) return 1 ;;
    esac
}
name_of_mac() {
    case $1 in
    02:00:00:00:00:0a) echo c ;;
    02:00:00:00:00:0[1-9]) echo "r${1: -1}" ;;
    *) echo "$1" ;;
    esac
}
ip4_of() { case $1 in c) echo 192.0.2.10 ;; r*) echo "192.0.2.${1#r}" ;; esac; }
ip6_of() { case $1 in c) echo 2001:db8::10 ;; r*) echo "2001:db8::${1#r}" ;; esac; }
ll6_of() { case $1 in c) echo fe80::ff:fe00:a ;; r*) echo "fe80::ff:fe00:${1#r}" ;; esac; }
ns_of() { echo "$KVL-$1"; }
port_of() { echo "$KVL-p${1#r}"; }

# attach NAME (r1.. or c) to the switch
lab_attach() {
    local n=$1 ns port mac
    ns=$(ns_of "$n")
    port=$(port_of "$n")
    mac=$(mac_of "$n")
    netns_add "$ns"
    run ip -n "$SW" link add "$port" type veth peer name eth0 netns "$ns" || die "veth for $n"
    run ip -n "$SW" link set "$port" master "$BR" up
    run tc -n "$SW" qdisc add dev "$port" ingress || die "tc ingress qdisc on $port"
    run tc -n "$SW" filter add dev "$port" parent ffff: protocol all u32 match u32 0 0 \
        action mirred egress mirror dev "$MON" >/dev/null || die "tc mirred on $port (needs cls_u32, act_mirred)"
    run ip -n "$ns" link set eth0 address "$mac"
    run ip netns exec "$ns" sysctl -qw net.ipv6.conf.eth0.accept_dad=0 net.ipv6.conf.eth0.accept_ra=0
    run ip -n "$ns" addr add "$(ip4_of "$n")/24" dev eth0
    run ip -n "$ns" addr add "$(ip6_of "$n")/64" dev eth0 nodad
    run ip -n "$ns" link set eth0 up
}

# lab_up NROUTERS: switch + routers r1..rN + client c
lab_up() {
    local nr=${1:-2} i
    [ "$nr" -ge 1 ] && [ "$nr" -le 9 ] || die "lab_up: 1..9 routers"
    netns_add "$SW"
    run ip netns exec "$SW" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
    run ip -n "$SW" link add "$BR" type bridge stp_state 0 forward_delay 0 mcast_snooping 0 || die "bridge"
    run ip -n "$SW" link add "$MON" type veth peer name "$MON"p || die "mirror port"
    run ip -n "$SW" link set "$MON"p up
    run ip -n "$SW" link set "$MON" up
    run ip -n "$SW" link set "$BR" up
    for ((i = 1; i <= nr; i++)); do lab_attach "r$i"; done
    lab_attach c
    LAB_ROUTERS=$nr
    # link-local addresses need no DAD (accept_dad=0) but wait until they exist (bounded)
    local n tries
    for n in $(seq 1 "$nr") c; do
        [ "$n" = c ] || n=r$n
        tries=0
        until ip -n "$(ns_of "$n")" -6 addr show dev eth0 scope link | awk -v a="$(ll6_of "$n")/" 'index($2, a) == 1 {f = 1} END {exit !f}'; do
            tries=$((tries + 1))
            [ "$tries" -le 100 ] || die "no link-local address on $n"
            sleep 0.02
        done
    done
    say "lab up: $nr routers + client on $BR (ns $SW)"
}

# ---------------------------------------------------------------- routers

find_keepvip() {
    local c
    for c in "${KEEPVIP_BIN:-}" \
        "${CARGO_TARGET_DIR:+$CARGO_TARGET_DIR/release/keepvip}" \
        "$LAB_REPO/target/release/keepvip" \
        "${CARGO_TARGET_DIR:+$CARGO_TARGET_DIR/debug/keepvip}" \
        "$LAB_REPO/target/debug/keepvip"; do
        if [ -n "$c" ] && [ -x "$c" ]; then
            echo "$c"
            return 0
        fi
    done
    return 1
}

# start_router NAME IMPL CONF: starts the daemon in ns kvl-NAME in the foreground mode,
# output to $LAB_DIR/NAME.K.log (K = start count, so old lines never match new waits)
start_router() {
    local n=$1 impl=$2 conf=$3 ns k log pidf
    ns=$(ns_of "$n")
    [ -f "$conf" ] || die "start_router $n: no config $conf"
    if router_running "$n"; then die "start_router $n: already running (pid ${R_PID[$n]})"; fi
    k=$((${R_STARTS[$n]:-0} + 1))
    R_STARTS[$n]=$k
    log=$LAB_DIR/$n.$k.log
    pidf=$LAB_DIR/run/$n.pid
    rm -f "$pidf" "$LAB_DIR/run/$n.vrrp.pid"
    cp "$conf" "$LAB_DIR/$n.$k.conf"
    R_CHILD[$n]=
    case $impl in
    keepalived)
        # -n foreground, -l log to console, -D detail, -G no syslog, -P vrrp only,
        # -R don't respawn the VRRP child (so kill -9 is a real crash)
        ip netns exec "$ns" "${KEEPALIVED_BIN:-keepalived}" -n -l -D -G -P -R -f "$conf" \
            -p "$pidf" -r "$LAB_DIR/run/$n.vrrp.pid" >"$log" 2>&1 </dev/null &
        ;;
    keepvip)
        local bin
        bin=$(find_keepvip) || die "keepvip binary not found"
        # shellcheck disable=SC2086
        ip netns exec "$ns" "$bin" -n -l -f "$conf" -p "$pidf" ${KEEPVIP_ARGS:-} >"$log" 2>&1 </dev/null &
        ;;
    *) die "start_router: unknown IMPL '$impl'" ;;
    esac
    R_PID[$n]=$!
    # bash still reaps it (no zombie), but stays quiet about "Killed" jobs
    disown "${R_PID[$n]}"
    R_IMPL[$n]=$impl
    R_LOG[$n]=$log
    R_CONF[$n]=$conf
    if [ "$impl" = keepalived ]; then
        # the VRRP child is the process that sends adverts; learn its PID (bounded)
        local i=0
        while [ ! -s "$LAB_DIR/run/$n.vrrp.pid" ] && [ "$i" -lt 250 ]; do
            pid_alive "${R_PID[$n]}" || break
            sleep 0.02
            i=$((i + 1))
        done
        R_CHILD[$n]=$(cat "$LAB_DIR/run/$n.vrrp.pid" 2>/dev/null || true)
        [ -n "${R_CHILD[$n]}" ] || die "start_router $n: keepalived VRRP child did not start (see $log)"
    fi
    sleep 0.05
    pid_alive "${R_PID[$n]}" || die "start_router $n: $impl exited at once (see $log)"
    say "started $n: $impl pid ${R_PID[$n]}${R_CHILD[$n]:+ (vrrp child ${R_CHILD[$n]})} conf $(basename "$conf")"
}

router_running() {
    [ -n "${R_PID[$1]:-}" ] && pid_alive "${R_PID[$1]}"
}

# stop_router NAME [TERM|KILL]: by PID only. Sets STOP_MS (time until the process was gone)
# and STOP_T (epoch when the signal was sent).
stop_router() {
    local n=$1 sig=${2:-TERM} pid child t0
    pid=${R_PID[$n]:-}
    child=${R_CHILD[$n]:-}
    [ -n "$pid" ] || die "stop_router $n: not started"
    t0=$EPOCHREALTIME
    STOP_T=$t0
    case $sig in
    KILL)
        # kill the VRRP child first (it is the one speaking VRRP), the parent at once after
        if [ -n "$child" ]; then kill -KILL "$child" "$pid" 2>/dev/null; else kill -KILL "$pid" 2>/dev/null; fi
        ;;
    TERM | INT | HUP) kill "-$sig" "$pid" 2>/dev/null ;;
    *) die "stop_router: signal $sig" ;;
    esac
    [ "$sig" = HUP ] && return 0
    if ! wait_pid_gone "$pid" 10; then
        warn "$n pid $pid still alive 10 s after SIG$sig, sending KILL"
        kill -KILL "$pid" 2>/dev/null
        wait_pid_gone "$pid" 2 || true
        STOP_MS=timeout
        return 1
    fi
    if [ -n "$child" ] && ! wait_pid_gone "$child" 5; then
        kill -KILL "$child" 2>/dev/null
    fi
    STOP_MS=$(ms_between "$t0" "$EPOCHREALTIME")
    say "stopped $n (${R_IMPL[$n]}) with SIG$sig: gone after $STOP_MS ms"
}

# ---------------------------------------------------------------- waits (all bounded)

# wait_for FILE FIXED_STRING TIMEOUT_S: returns 0 once FILE contains the string
wait_for() {
    local f=$1 pat=$2 limit=$3 i=0 n
    n=$(awk -v t="$limit" 'BEGIN{printf "%d", t*20}')
    while [ "$i" -le "$n" ]; do
        if grep -qF -- "$pat" "$f" 2>/dev/null; then return 0; fi
        sleep 0.05
        i=$((i + 1))
    done
    return 1
}

# wait_state NAME STATE TIMEOUT_S [INSTANCE]: STATE = MASTER|BACKUP|FAULT, in the current log
wait_state() {
    local n=$1 st=$2 limit=$3 inst=${4:-VI_1}
    if wait_for "${R_LOG[$n]}" "($inst) Entering $st STATE" "$limit"; then
        say "$n ($inst) is $st"
        return 0
    fi
    die "$n ($inst) did not enter $st state within ${limit}s (log ${R_LOG[$n]})"
}
wait_master() { wait_state "$1" MASTER "$2" "${3:-VI_1}"; }
wait_backup() { wait_state "$1" BACKUP "$2" "${3:-VI_1}"; }
wait_fault() { wait_state "$1" FAULT "$2" "${3:-VI_1}"; }

# count of "Entering STATE" lines for INSTANCE in NAME's current log
state_count() {
    local n=$1 st=$2 inst=${3:-VI_1}
    grep -cF -- "($inst) Entering $st STATE" "${R_LOG[$n]}" 2>/dev/null || true
}

# wait_state_n NAME STATE N TIMEOUT_S [INSTANCE]: until NAME's current log has at least N
# "Entering STATE" lines for INSTANCE (for a second MASTER/BACKUP in the same run)
wait_state_n() {
    local n=$1 st=$2 want=$3 limit=$4 inst=${5:-VI_1} i=0 k
    k=$(awk -v t="$limit" 'BEGIN{printf "%d", t*20}')
    until [ "$(state_count "$n" "$st" "$inst")" -ge "$want" ]; do
        i=$((i + 1))
        [ "$i" -le "$k" ] || die "$n ($inst) did not enter $st state for the ${want}th time within ${limit}s (log ${R_LOG[$n]})"
        sleep 0.05
    done
    say "$n ($inst) is $st (time $want)"
}

# clean_stop_handover NAME_OLD NAME_NEW INSTANCE VIP: the master OLD is stopped with SIGTERM (it
# must send priority 0 and remove VIP); NEW takes over and the client reaches VIP at NEW. Then
# OLD is started again with the same config and preempts back (NEW returns to BACKUP, the client
# reaches VIP at OLD). Sets HANDOVER_T (epoch of the SIGTERM) for report_handover.
clean_stop_handover() {
    local old=$1 new=$2 inst=$3 vip=$4 m b
    m=$(state_count "$new" MASTER "$inst")
    b=$(state_count "$new" BACKUP "$inst")
    stop_router "$old" TERM
    HANDOVER_T=$STOP_T
    say "$old (${R_IMPL[$old]}) exited $STOP_MS ms after SIGTERM"
    wait_state_n "$new" MASTER $((m + 1)) 5 "$inst"
    # a clean stop removes the VIP from the old master
    wait_vip "$vip" "$new" 5
    client_reach "$vip" "$new"
    start_router "$old" "${R_IMPL[$old]}" "${R_CONF[$old]}"
    wait_master "$old" 10 "$inst"
    wait_state_n "$new" BACKUP $((b + 1)) 5 "$inst"
    wait_vip "$vip" "$old" 5
    client_reach "$vip" "$old"
}

# who_has_vip [ADDR]: names of the routers whose eth0 holds ADDR (space separated, may be empty)
who_has_vip() {
    local addr=${1:-$VIP4} i out=
    for ((i = 1; i <= LAB_ROUTERS; i++)); do
        if ip -n "$(ns_of "r$i")" -o addr show dev eth0 | awk -v a="$addr/" 'index($4, a) == 1 {f = 1} END {exit !f}'; then
            out="$out r$i"
        fi
    done
    echo "${out# }"
}

# wait_vip ADDR "EXPECTED HOLDERS" TIMEOUT_S: until who_has_vip ADDR == EXPECTED ("" = nobody)
wait_vip() {
    local addr=$1 want=$2 limit=$3 i=0 n got
    n=$(awk -v t="$limit" 'BEGIN{printf "%d", t*20}')
    while [ "$i" -le "$n" ]; do
        got=$(who_has_vip "$addr")
        if [ "$got" = "$want" ]; then
            say "VIP $addr on: ${got:-nobody}"
            return 0
        fi
        sleep 0.05
        i=$((i + 1))
    done
    die "VIP $addr on '${got}', expected '${want}' (waited ${limit}s)"
}

# assert_stable S [MASTER[:VRID]...]: watch for S seconds that nothing flaps (no new state line
# in any router log). With MASTER names, the window is recorded so that check_stable_windows can
# verify from the capture that only MASTER advertised (the routers agree on one master).
LAB_WINDOWS=()
assert_stable() {
    local s=$1 n before=() after=() t0 t1 m
    shift
    for n in "${!R_LOG[@]}"; do before+=("$n:$(grep -c 'Entering' "${R_LOG[$n]}" 2>/dev/null || true)"); done
    t0=$EPOCHREALTIME
    sleep "$s"
    t1=$EPOCHREALTIME
    for n in "${!R_LOG[@]}"; do after+=("$n:$(grep -c 'Entering' "${R_LOG[$n]}" 2>/dev/null || true)"); done
    [ "${before[*]}" = "${after[*]}" ] || die "state changed during a ${s}s quiet period: ${before[*]} -> ${after[*]}"
    for m in "$@"; do LAB_WINDOWS+=("$m $t0 $t1"); done
    say "stable for ${s}s${*:+ (master: $*)}"
}

# check_stable_windows PCAP: for each window recorded by assert_stable, the expected master sent
# adverts (at least one per ~second) and no other router advertised for that VRID
check_stable_windows() {
    local p=$1 w m vrid t0 t1 own other
    for w in "${LAB_WINDOWS[@]}"; do
        read -r m t0 t1 <<<"$w"
        vrid=
        case $m in *:*) vrid=${m#*:} m=${m%%:*} ;; esac
        own=$(vrrp_table "$p" | awk -v mac="$(mac_of "$m")" -v a="$t0" -v b="$t1" -v v="$vrid" \
            '$2 == mac && $5 > 0 && $1 >= a && $1 <= b && (v == "" || $4 == v)' | wc -l)
        other=$(vrrp_table "$p" | awk -v mac="$(mac_of "$m")" -v a="$t0" -v b="$t1" -v v="$vrid" \
            '$2 != mac && $1 >= a && $1 <= b && (v == "" || $4 == v)' | wc -l)
        [ "$own" -ge 1 ] || die "no advert from $m${vrid:+ (vrid $vrid)} during its stable window"
        [ "$other" -eq 0 ] || die "$other adverts from other routers${vrid:+ (vrid $vrid)} while $m was the master"
        say "capture: during +$(since0 "$t0")..+$(since0 "$t1")s only $m advertised${vrid:+ vrid $vrid} ($own adverts)"
    done
}

# ---------------------------------------------------------------- client

# client_reach ADDR EXPECT_ROUTER: the client pings ADDR (bounded retries) and its neighbour
# entry for ADDR must be EXPECT_ROUTER's MAC (so the answer came from the new master, not
# from a stale address left on a dead router).
client_reach() {
    local addr=$1 want=$2 fam=-4 i ok=0 mac wmac
    case $addr in *:*) fam=-6 ;; esac
    wmac=$(mac_of "$want")
    for i in 1 2 3 4 5 6 7 8 9 10; do
        if ip netns exec "$(ns_of c)" ping "$fam" -n -q -c 1 -W 1 "$addr" >/dev/null 2>&1; then
            mac=$(ip -n "$(ns_of c)" "$fam" neigh show "$addr" dev eth0 | awk '{for(i=1;i<NF;i++) if($i=="lladdr") print $(i+1)}')
            if [ "$mac" = "$wmac" ]; then
                ok=1
                break
            fi
        fi
        sleep 0.2
    done
    [ "$ok" = 1 ] || die "client cannot reach $addr via $want ($wmac); neighbour entry: $(ip -n "$(ns_of c)" "$fam" neigh show "$addr" dev eth0)"
    say "client reaches $addr at $want ($wmac)"
}

# client_arping ADDR: prints the MACs answering an ARP request for ADDR (one line each)
client_arping() {
    ip netns exec "$(ns_of c)" arping -c 2 -w 2 -i eth0 "$1" 2>/dev/null |
        awk '/bytes from/ {print $4}' | sort -u
}

# bg_start OUTFILE NS_NAME CMD...: run CMD in namespace kvl-NS_NAME in the background, output to
# OUTFILE; sets BG_PID (recorded for cleanup). The command must bound itself (e.g. ping -c/-w).
bg_start() {
    local out=$1 n=$2
    shift 2
    ip netns exec "$(ns_of "$n")" "$@" >"$out" 2>&1 </dev/null &
    BG_PID=$!
    disown "$BG_PID"
    LAB_BG+=("$BG_PID")
}

# ---------------------------------------------------------------- capture

capture_start() {
    local name=${1:-capture}
    CAP_PCAP=$LAB_DIR/$name.pcap
    ip netns exec "$SW" tcpdump -i "$MON" -n -U -s 0 -Z root -w "$CAP_PCAP" >"$LAB_DIR/tcpdump.txt" 2>&1 </dev/null &
    CAP_PID=$!
    disown "$CAP_PID"
    wait_for "$LAB_DIR/tcpdump.txt" "listening on" 5 || die "tcpdump did not start: $(cat "$LAB_DIR/tcpdump.txt")"
    say "capturing on $MON (ns $SW) to $(basename "$CAP_PCAP"), tcpdump pid $CAP_PID"
}

capture_stop() {
    [ -n "$CAP_PID" ] || return 0
    kill -TERM "$CAP_PID" 2>/dev/null
    wait_pid_gone "$CAP_PID" 5 || { kill -KILL "$CAP_PID" 2>/dev/null; wait_pid_gone "$CAP_PID" 2; }
    CAP_PID=
    say "capture stopped: $(tail -n 3 "$LAB_DIR/tcpdump.txt" | grep captured || true)"
}

# ---------------------------------------------------------------- pcap analysis (tshark)
#
# vrrp_table PCAP: one line per VRRP frame:
#   epoch src_mac version vrid prio checksum_status dst adv_int(cs) auth_string
# tshark fields (verified against tshark 4.0): vrrp.version vrrp.virt_rtr_id vrrp.prio
# vrrp.checksum.status (1 = Good, 0 = Bad, 2 = unverified) vrrp.adver_int (v2, s)
# vrrp.short_adver_int (v3, cs) vrrp.auth_string
vrrp_table() {
    local p=$1
    if [ ! -s "$p.vrrp" ]; then
        tshark -r "$p" -Y vrrp -T fields -E separator='|' -E occurrence=f \
            -e frame.time_epoch -e eth.src -e vrrp.version -e vrrp.virt_rtr_id -e vrrp.prio \
            -e vrrp.checksum.status -e ip.dst -e ipv6.dst -e vrrp.adver_int -e vrrp.short_adver_int \
            -e vrrp.auth_string 2>/dev/null |
            awk -F'|' '{ dst = ($7 != "") ? $7 : $8; adv = ($3 == 2) ? $9 * 100 : $10;
                         auth = ($11 == "") ? "-" : $11;
                         print $1, $2, $3, $4, $5, ($6 == "") ? "none" : $6, dst, adv, auth }' >"$p.vrrp"
    fi
    cat "$p.vrrp"
}

# pcap_last_advert PCAP NAME [BEFORE_EPOCH] [VRID]: epoch of NAME's last advert with prio > 0
pcap_last_advert() {
    vrrp_table "$1" | awk -v m="$(mac_of "$2")" -v b="${3:-9e12}" -v v="${4:-}" \
        '$2 == m && $5 > 0 && $1 < b && (v == "" || $4 == v) { t = $1 } END { if (t != "") print t }'
}
# pcap_first_advert PCAP NAME AFTER_EPOCH [VRID]: epoch of NAME's first advert with prio > 0 after
pcap_first_advert() {
    vrrp_table "$1" | awk -v m="$(mac_of "$2")" -v a="$3" -v v="${4:-}" \
        '$2 == m && $5 > 0 && $1 > a && (v == "" || $4 == v) { print $1; exit }'
}
# pcap_prio0_advert PCAP NAME [AFTER_EPOCH]: epoch of NAME's first priority-0 advert
pcap_prio0_advert() {
    vrrp_table "$1" | awk -v m="$(mac_of "$2")" -v a="${3:-0}" '$2 == m && $5 == 0 && $1 > a { print $1; exit }'
}
# pcap_field PCAP NAME COLUMN [AFTER_EPOCH] [VRID]: vrrp_table column of NAME's first advert
# (prio > 0) after AFTER_EPOCH, optionally for one VRID
pcap_field() {
    vrrp_table "$1" | awk -v m="$(mac_of "$2")" -v c="$3" -v a="${4:-0}" -v v="${5:-}" \
        '$2 == m && $5 > 0 && $1 > a && (v == "" || $4 == v) { print $c; exit }'
}

# check_checksums PCAP NAME...: every VRRP frame from each NAME decodes as valid VRRP: tshark
# finds the checksum Good (vrrp.checksum.status == 1), nothing malformed, TTL / hop limit 255
# and TOS / traffic class 0xc0 (internetwork control, as keepalived sends)
check_checksums() {
    local p=$1 n cnt bad hdr mal mac
    shift
    for n in "$@"; do
        mac=$(mac_of "$n")
        cnt=$(vrrp_table "$p" | awk -v m="$mac" '$2 == m' | wc -l)
        bad=$(vrrp_table "$p" | awk -v m="$mac" '$2 == m && $6 != 1' | wc -l)
        [ "$cnt" -gt 0 ] || die "no VRRP frames from $n in $(basename "$p")"
        [ "$bad" -eq 0 ] || die "$bad of $cnt VRRP frames from $n do not have vrrp.checksum.status == 1 (Good)"
        hdr=$(tshark -r "$p" -Y "vrrp && eth.src == $mac && !((ip.ttl == 255 && ip.dsfield == 0xc0) || (ipv6.hlim == 255 && ipv6.tclass == 0xc0))" 2>/dev/null | wc -l)
        [ "$hdr" -eq 0 ] || die "$hdr VRRP frames from $n without TTL/hop limit 255 and TOS/traffic class 0xc0"
        mal=$(tshark -r "$p" -Y "eth.src == $mac && _ws.malformed" 2>/dev/null | wc -l)
        [ "$mal" -eq 0 ] || die "$mal malformed frames from $n"
        say "tshark: all $cnt VRRP frames from $n (${R_IMPL[$n]:-?}) are valid: checksum good, TTL 255, TOS 0xc0"
    done
}

# master_down_ms ADV_CS PRIO VERSION: Master_Down_Interval in ms
#   v3 (RFC 5798): 3*MAI + (256-prio)*MAI/256;  v2 (RFC 3768): 3*adv + (256-prio)/256 s
skew_ms() {
    awk -v a="$1" -v p="$2" -v v="$3" 'BEGIN{ if (v == 2) printf "%.1f", (256-p)*1000/256; else printf "%.1f", (256-p)*a*10/256 }'
}
master_down_ms() {
    awk -v a="$1" -v s="$(skew_ms "$1" "$2" "$3")" 'BEGIN{ printf "%.1f", 3*a*10 + s }'
}

# report_failover PCAP OLD NEW EVENT_EPOCH [VRID] [LABEL]: failover measurement after the old
# master went silent at EVENT_EPOCH (kill -9, link down). Sets FAILOVER_MS. Fails if the new
# master never sent an advert.
report_failover() {
    local p=$1 old=$2 new=$3 ev=$4 vrid=${5:-} what=${6:-kill -9} tl tf adv prio ver mdi
    tl=$(pcap_last_advert "$p" "$old" "$ev" "$vrid")
    [ -n "$tl" ] || die "no advert from $old before the $what"
    tf=$(pcap_first_advert "$p" "$new" "$tl" "$vrid")
    [ -n "$tf" ] || die "no advert from $new after $old's last advert"
    adv=$(pcap_field "$p" "$old" 8 0 "$vrid")
    prio=$(pcap_field "$p" "$new" 5 "$tl" "$vrid")
    ver=$(pcap_field "$p" "$old" 3 0 "$vrid")
    mdi=$(master_down_ms "$adv" "$prio" "$ver")
    FAILOVER_MS=$(ms_between "$tl" "$tf")
    say "FAILOVER ($what): $old last advert at +$(since0 "$tl")s, $what at +$(since0 "$ev")s, $new first advert at +$(since0 "$tf")s"
    say "FAILOVER ($what): delay $FAILOVER_MS ms after the last advert; Master_Down_Interval = $mdi ms (v$ver, adv ${adv}cs, prio $prio); excess $(awk -v a="$FAILOVER_MS" -v b="$mdi" 'BEGIN{printf "%+.1f", a-b}') ms $(awk -v a="$FAILOVER_MS" -v b="$mdi" 'BEGIN{print (a <= b + 5) ? "(within MDI + 5 ms)" : "(NOT within MDI + 5 ms)"}')"
    # loose sanity bound only (CI machines are noisy): not before 3 adverts are missed, not > MDI + 1 s
    awk -v a="$FAILOVER_MS" -v b="$mdi" -v adv="$adv" 'BEGIN{ exit !(a >= 2.5*adv*10 && a <= b + 1000) }' ||
        die "failover delay $FAILOVER_MS ms far outside Master_Down_Interval $mdi ms"
}

# report_handover PCAP OLD NEW: SIGTERM handover measurement (priority-0 advert -> new master).
# Sets HANDOVER_MS.
report_handover() {
    local p=$1 old=$2 new=$3 ev=${4:-0} t0 tf adv prio ver skew
    t0=$(pcap_prio0_advert "$p" "$old" "$ev")
    [ -n "$t0" ] || die "no priority-0 advert from $old"
    tf=$(pcap_first_advert "$p" "$new" "$t0")
    [ -n "$tf" ] || die "no advert from $new after $old's priority-0 advert"
    adv=$(pcap_field "$p" "$old" 8)
    prio=$(pcap_field "$p" "$new" 5 "$t0")
    ver=$(pcap_field "$p" "$old" 3)
    skew=$(skew_ms "$adv" "$prio" "$ver")
    HANDOVER_MS=$(ms_between "$t0" "$tf")
    say "HANDOVER (SIGTERM): $old priority-0 advert at +$(since0 "$t0")s, $new first advert at +$(since0 "$tf")s"
    say "HANDOVER (SIGTERM): delay $HANDOVER_MS ms; Skew_Time = $skew ms (v$ver, prio $prio); excess $(awk -v a="$HANDOVER_MS" -v b="$skew" 'BEGIN{printf "%+.1f", a-b}') ms $(awk -v a="$HANDOVER_MS" -v b="$skew" 'BEGIN{print (a <= b + 5) ? "(within Skew_Time + 5 ms)" : "(NOT within Skew_Time + 5 ms)"}')"
    awk -v a="$HANDOVER_MS" -v b="$skew" 'BEGIN{ exit !(a <= b + 1000) }' ||
        die "handover delay $HANDOVER_MS ms far above Skew_Time $skew ms"
}

# timeline PCAP [noping]: readable, with consecutive identical frames collapsed
timeline() {
    local p=$1 filter='vrrp || arp || icmpv6.type == 136 || icmp || icmpv6.type == 128 || icmpv6.type == 129'
    [ "${2:-}" = noping ] && filter='vrrp || arp || icmpv6.type == 136'
    echo "----- timeline of $(basename "$p") (seconds since lab start; r1..r9 = 02:00:00:00:00:0N, c = client)"
    tshark -r "$p" -Y "$filter" \
        -T fields -E separator='|' -E occurrence=f \
        -e frame.time_epoch -e eth.src -e vrrp.version -e vrrp.virt_rtr_id -e vrrp.prio \
        -e vrrp.checksum.status -e ip.dst -e ipv6.dst -e arp.opcode -e arp.src.proto_ipv4 \
        -e arp.dst.proto_ipv4 -e icmpv6.type -e icmpv6.nd.na.target_address -e icmp.type -e ip.src 2>/dev/null |
        awk -F'|' -v t0="$LAB_T0" '
        function name(m) { if (m ~ /^02:00:00:00:00:0[1-9]$/) return "r" substr(m, 17, 1); if (m == "02:00:00:00:00:0a") return "c"; return m }
        function flush() { if (last != "") { if (cnt > 1) printf "%s   (x%d until +%.3f)\n", last, cnt, lt - t0; else print last } last = ""; cnt = 0 }
        {
            t = $1; who = name($2); key = ""; line = ""
            if ($3 != "") {
                dst = ($7 != "") ? $7 : $8
                cs = ($6 == 1) ? "csum ok" : "CSUM BAD(" $6 ")"
                key = who "vrrp" $3 $4 $5 dst
                line = sprintf("+%8.3f %-3s VRRPv%s vrid %s prio %3s -> %s %s%s", t - t0, who, $3, $4, $5, dst, cs, ($5 == 0) ? "   <== priority 0 (resign)" : "")
            } else if ($9 != "") {
                if ($10 == $11) { key = who "garp" $10; line = sprintf("+%8.3f %-3s gratuitous ARP %s is-at %s", t - t0, who, $10, $2) }
                else if ($9 == 2) { key = who "arprep" $10; line = sprintf("+%8.3f %-3s ARP reply %s is-at %s", t - t0, who, $10, $2) }
                else { key = who "arpreq" $11; line = sprintf("+%8.3f %-3s ARP who-has %s", t - t0, who, $11) }
            } else if ($12 == 136) {
                key = who "na" $13; line = sprintf("+%8.3f %-3s neighbour advert %s is-at %s", t - t0, who, $13, $2)
            } else if ($14 == 8 || $12 == 128) { key = who "ping"; line = sprintf("+%8.3f %-3s echo request", t - t0, who)
            } else if ($14 == 0 || $12 == 129) { key = who "pong"; line = sprintf("+%8.3f %-3s echo reply", t - t0, who)
            } else next
            if (key == lastkey) { cnt++; lt = t; next }
            flush(); last = line; lastkey = key; cnt = 1; lt = t
        }
        END { flush() }'
    echo "-----"
}

# print the "Entering ... STATE" lines of every log of NAME, for the record
print_states() {
    local n f
    for n in "$@"; do
        for f in "$LAB_DIR/$n".*.log; do
            [ -f "$f" ] || continue
            grep -E 'Entering [A-Z]+ STATE|priority 0|removing|Removing' "$f" | sed "s|^|    $(basename "$f"): |" | head -n 20
        done
    done
}
