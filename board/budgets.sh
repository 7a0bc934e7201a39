#!/usr/bin/env bash
# board/budgets.sh - resource budgets of the running daemon (issue 5, item 5), the `budgets`
# phase of board/ci.sh. Runs the x86_64 musl binary from board/build.sh for real in the
# namespace lab (tests/lab/lib.sh, prefix "kvbud"), as root.
#
#   rss    peak RSS (VmHWM from /proc/PID/status) with 1 and with 100 instances. Per size two
#          keepvip routers: r1 (priority 200) becomes master, r2 (100) backup; r1 is killed
#          with -9, r2 takes over, holds the VIPs past the second GARP burst, r1 restarts and
#          preempts, r2 is backup again. Then both are read: r2 has been backup, master and
#          backup, r1 master. Fails if the larger VmHWM is over the limit.
#   heap   zero heap growth after start-up: r1 (priority 100, 100 instances) runs under
#          `strace -f -e trace=brk,mmap,munmap,mremap,write`; r2 (200) is killed with -9 and
#          restarted 3 times, so r1 goes backup -> master -> backup three times (all 100
#          instances each time). Fails on any brk/mmap/munmap/mremap between the
#          "startup complete" log line and the "Stopping" line of SIGTERM; and on any heap
#          allocation after start-up that the daemon's own counter (src/sys/alloc.rs) reports,
#          through `keepvip status --json` before SIGTERM and in its stop log line (strace sees
#          the heap grow, the counter every allocation, also one the heap already has room for).
#   lvsheap  the same for the `--profile lvs` binary (health checkers, IPVS): r1 starts with
#          VRRP only and gets a SIGHUP that adds the first virtual_server (a TCP_CHECK and an
#          HTTP_GET against a TCP listener and python's http.server in the client namespace),
#          then the TCP listener is killed (by PID) and restarted 3 times (server down, up) while
#          r2 is killed and restarted twice (r1 backup -> master -> backup; IPVS would follow,
#          the test kernel has none: modprobe ip_vs runs once and fails). Only the daemon's own
#          lines count (strace -f also follows modprobe, which is another program). The
#          allocation counter is read and held to zero as for heap.
#
# Usage: board/budgets.sh [rss] [heap] [lvsheap]   (default: all three)
# Environment:
#   KEEPVIP_BIN              binary to measure (default target/board/x86_64-unknown-linux-musl/
#                            keepvip, built with board/build.sh if missing)
#   KEEPVIP_LVS_BIN          the lvs-profile binary for lvsheap (default target/board/lvs/
#                            x86_64-unknown-linux-musl/keepvip, built with board/build.sh
#                            --profile lvs if missing)
#   KEEPVIP_RSS_LIMIT_1_KB   enforced VmHWM limit, 1 instance (default 720)
#   KEEPVIP_RSS_LIMIT_100_KB enforced VmHWM limit, 100 instances (default 1728)
#   KEEPVIP_RSS_GOAL_1_KB, KEEPVIP_RSS_GOAL_100_KB   the issue's goals (256, 512), printed only
#
# Why these limits (x86_64 musl, 4 KiB pages; measured 684 KiB with 1 instance and 1384 KiB
# with 100, see board/README.md "Budgets"; broken down with /proc/PID/smaps and, per mmap'd
# allocation, /proc/PID/pagemap): 312 KiB of either figure is the binary itself, mapped from
# the file (RssFile: the kernel faults text in 64 KiB blocks, so nearly all of the 254 KiB text
# segment is resident). About 85 KiB is stack (the config parser's and start-up's frames,
# touched once). The rest is heap, 280 KiB with 1 instance: the running configuration and the
# reload spare (44 and 52 KiB resident of 916 KiB each), the two routers (12 + 12 KiB), the I/O
# buffers (netlink 32 KiB, VRRP 8 KiB), the trackers, the script runner, the status server.
# Only the pages a configuration uses become resident: build.rs capacities cost address space,
# not RSS. Each instance adds 7.1 KiB: its parsed configuration (InstanceConfig, 5.1 KiB: inline
# room for 20 + 20 VIPs of 72 bytes, 2.8 KiB; 4 x 8 tracker references of 64 bytes, 2.0 KiB;
# the notify hooks, 24 bytes of indices into the configuration's one pool of commands), the
# core's state (1.4 KiB) and 0.4 KiB in smaller tables. Before the notify pool and the compact
# VIPs it was 10.6 KiB (InstanceConfig 8.6 KiB: 6 notify commands of 376 bytes inline, VIPs of
# 104 bytes) and 100 instances measured 1744 KiB, over the limit. The limits: 720 KiB is the
# 1-instance figure of the time the trackers, notify, dumps and status socket were merged plus
# about 10 %; 1728 KiB was 1320 KiB plus 30 %, and holds 1384 KiB now with 20 % to spare. A
# regression like building a table on the stack and copying it (1324 and 2092 KiB before that
# fix) fails. The issue's goals (256 and 512 KiB) are not met: see the README.
set -Eeuo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LIMIT_1=${KEEPVIP_RSS_LIMIT_1_KB:-720}
LIMIT_100=${KEEPVIP_RSS_LIMIT_100_KB:-1728}
GOAL_1=${KEEPVIP_RSS_GOAL_1_KB:-256}
GOAL_100=${KEEPVIP_RSS_GOAL_100_KB:-512}

checks=("$@")
[ ${#checks[@]} -gt 0 ] || checks=(rss heap lvsheap)
for c in "${checks[@]}"; do
    case $c in rss | heap | lvsheap) ;; *) echo "board/budgets.sh: unknown check '$c' (rss, heap, lvsheap)" >&2; exit 2 ;; esac
done

if [ -z "${KEEPVIP_BIN:-}" ]; then
    KEEPVIP_BIN=$REPO/target/board/x86_64-unknown-linux-musl/keepvip
    if [ ! -x "$KEEPVIP_BIN" ]; then
        echo "[budgets] $KEEPVIP_BIN missing: building it" >&2
        "$REPO/board/build.sh" x86_64-unknown-linux-musl --no-run
    fi
fi
[ -x "$KEEPVIP_BIN" ] || { echo "[budgets] no binary $KEEPVIP_BIN" >&2; exit 1; }
export KEEPVIP_BIN
if printf '%s\n' "${checks[@]}" | grep -qx lvsheap && [ -z "${KEEPVIP_LVS_BIN:-}" ]; then
    KEEPVIP_LVS_BIN=$REPO/target/board/lvs/x86_64-unknown-linux-musl/keepvip
    if [ ! -x "$KEEPVIP_LVS_BIN" ]; then
        echo "[budgets] $KEEPVIP_LVS_BIN missing: building it" >&2
        "$REPO/board/build.sh" x86_64-unknown-linux-musl --profile lvs --no-run
    fi
fi
command -v strace >/dev/null || { echo "[budgets] strace is missing (tests/deps.sh installs it)" >&2; exit 1; }

export KVL_PREFIX=${KVL_PREFIX:-kvbud}
# both lab routers run keepvip (read by tests/lab/lib.sh)
export IMPL1=keepvip IMPL2=keepvip
# shellcheck source-path=SCRIPTDIR source=../tests/lab/lib.sh
. "$REPO/tests/lab/lib.sh"
# shellcheck source-path=SCRIPTDIR source=../tests/bench/lib.sh
. "$REPO/tests/bench/lib.sh"

lab_init budgets 300
lab_up 2
say "binary $KEEPVIP_BIN ($(stat -c %s "$KEEPVIP_BIN") bytes)"

BUDGET_FAILED=0
ROWS=()

# one RSS measurement with N instances
rss_run() {
    local n=$1 limit=$2 goal=$3 last=VI_$1 r pid hwm rss anon file stk max=0 verdict
    bench_conf "$LAB_DIR/rss$n.r1.conf" r1 "$n" 200 MASTER 2 1
    bench_conf "$LAB_DIR/rss$n.r2.conf" r2 "$n" 100 BACKUP 2 1
    start_router r1 keepvip "$LAB_DIR/rss$n.r1.conf"
    wait_master r1 10 "$last"
    start_router r2 keepvip "$LAB_DIR/rss$n.r2.conf"
    wait_backup r2 10 "$last"
    sleep 3
    stop_router r1 KILL
    wait_master r2 10 "$last"
    # past the second GARP burst (garp_master_delay 5 s)
    sleep 6
    start_router r1 keepvip "$LAB_DIR/rss$n.r1.conf"
    wait_master r1 10 "$last"
    wait_count r2 BACKUP "$last" 2 10
    sleep 2
    for r in r2 r1; do
        pid=${R_PID[$r]}
        hwm=$(proc_kb "$pid" VmHWM) rss=$(proc_kb "$pid" VmRSS) anon=$(proc_kb "$pid" RssAnon)
        file=$(proc_kb "$pid" RssFile) stk=$(proc_kb "$pid" VmStk)
        [ -n "$hwm" ] || die "$r (pid $pid) is gone"
        [ "$hwm" -gt "$max" ] && max=$hwm
        case $r in r2) role="backup, master, backup" ;; *) role="master" ;; esac
        ROWS+=("| $n | $r: $role | $hwm | $rss | $anon | $file | $stk | |")
    done
    if [ "$max" -gt "$limit" ]; then verdict="FAIL: over the limit"; BUDGET_FAILED=1
    elif [ "$max" -gt "$goal" ]; then verdict="ok (over the goal by $((max - goal)) KiB)"
    else verdict="ok (goal met)"; fi
    ROWS+=("| $n | **peak** | **$max** | | | | | limit $limit KiB, goal $goal KiB: $verdict |")
    stop_router r1 TERM
    stop_router r2 TERM
}

heap_run() {
    local n=100 last=VI_100 trace wrap real i text start stop growth writes pre counts
    bench_conf "$LAB_DIR/heap.r1.conf" r1 "$n" 100 BACKUP 2 1
    bench_conf "$LAB_DIR/heap.r2.conf" r2 "$n" 200 MASTER 2 1
    trace=$LAB_DIR/r1.strace
    wrap=$LAB_DIR/strace-keepvip.sh
    printf '#!/bin/sh\nexec strace -f -qq -s 200 -e trace=brk,mmap,munmap,mremap,write -o %q %q "$@"\n' \
        "$trace" "$KEEPVIP_BIN" >"$wrap"
    chmod +x "$wrap"
    start_router r2 keepvip "$LAB_DIR/heap.r2.conf"
    wait_master r2 10 "$last"
    KEEPVIP_BIN=$wrap start_router r1 keepvip "$LAB_DIR/heap.r1.conf"
    wait_backup r1 20 "$last"
    # the traced keepvip itself (R_PID is strace): stopped by the cleanup too if this run dies
    real=$(cat "$LAB_DIR/run/r1.pid")
    LAB_BG+=("$real")
    for i in 1 2 3; do
        stop_router r2 KILL
        wait_count r1 MASTER "$last" "$i" 15
        sleep 1
        start_router r2 keepvip "$LAB_DIR/heap.r2.conf"
        wait_master r2 10 "$last"
        wait_count r1 BACKUP "$last" $((i + 1)) 15
        say "heap: round $i done (r1 backup -> master -> backup)"
    done
    sleep 1
    counts=$(alloc_counts "$KEEPVIP_BIN" "$LAB_DIR/run/r1.pid")
    kill -TERM "$real"
    wait_pid_gone "${R_PID[r1]}" 10 || die "traced r1 did not stop"
    stop_router r2 TERM
    check_allocs "heap (100 instances)" "$counts" "$(stop_allocs "${R_LOG[r1]}")"
    HEAP_ALLOC_ROW=$ALLOC_ROW
    start=$(grep -n 'write(.*startup complete' "$trace" | head -n1 | cut -d: -f1)
    stop=$(grep -n 'write(.*\] Stopping' "$trace" | head -n1 | cut -d: -f1)
    [ -n "$start" ] || die "no start-up marker in $trace"
    if [ -z "$stop" ] || [ "$stop" -le "$start" ]; then die "no 'Stopping' after the marker in $trace"; fi
    pre=$(head -n "$start" "$trace" | grep -cE ' (brk|mmap)\(' || true)
    [ "$pre" -gt 0 ] || die "no brk/mmap traced before the marker: is the strace filter right?"
    text=$(sed -n "$((start + 1)),$((stop - 1))p" "$trace")
    growth=$(printf '%s\n' "$text" | grep -cE ' (brk|mmap|munmap|mremap)\(' || true)
    writes=$(printf '%s\n' "$text" | grep -c ' write(' || true)
    [ "$writes" -gt 600 ] || die "only $writes log writes traced between start-up and stop: too little activity"
    HEAP_LINE="| heap growth after start-up (brk/mmap/munmap/mremap) | $growth calls | 0 | $pre before the marker, $writes log writes after it, 3 failovers + 3 preemptions x 100 instances |"
    if [ "$growth" -ne 0 ]; then
        BUDGET_FAILED=1
        warn "heap growth after start-up:"
        printf '%s\n' "$text" | grep -E ' (brk|mmap|munmap|mremap)\(' | head -n 20 >&2
    fi
    say "heap: $growth brk/mmap/munmap/mremap calls after start-up ($writes log writes traced)"
}

# alloc_counts BIN PIDFILE: the daemon's allocation counter from `BIN status --json` (the same
# object in every element): "COUNT BYTES STARTUP_COUNT STARTUP_BYTES" since / during start-up;
# empty when the answer has none
alloc_counts() {
    local j
    j=$("$1" status --json -p "$2") || die "keepvip status --json -p $2 failed"
    printf '%s' "$j" |
        grep -oE '"allocations":\{"since_startup":\{"count":[0-9]+,"bytes":[0-9]+\},"startup":\{"count":[0-9]+,"bytes":[0-9]+\}\}' |
        tr -c '0-9\n' ' ' | awk 'NR == 1 && NF == 4 {print $1, $2, $3, $4}'
}

# stop_allocs LOG: "COUNT BYTES" of the last "Heap allocations: N (B bytes) since start-up" line
stop_allocs() {
    grep -oE 'Heap allocations: [0-9]+ \([0-9]+ bytes\) since start-up' "$1" | tail -n1 |
        tr -c '0-9' ' ' | awk 'NF == 2 {print $1, $2}'
}

# check_allocs WHAT STATUS_COUNTS STOP_COUNTS: fails the budget on a non-zero count; sets
# ALLOC_ROW (a row of the heap table)
check_allocs() {
    local what=$1 an ab sn sb tn tb
    read -r an ab sn sb <<<"$2"
    read -r tn tb <<<"$3"
    [ -n "${an:-}" ] || die "$what: no allocation counter in keepvip status --json"
    [ -n "${tn:-}" ] || die "$what: no 'Heap allocations' line at stop"
    ALLOC_ROW="| heap allocations after start-up, $what (in-process counter: status --json before SIGTERM / stop line) | $an / $tn | 0 | $ab / $tb bytes; start-up: $sn allocations, $sb bytes |"
    if [ "$an" -ne 0 ] || [ "$tn" -ne 0 ]; then
        BUDGET_FAILED=1
        warn "$what: $an heap allocation(s) after start-up by status --json, $tn by the stop line"
    fi
    say "$what: $an heap allocations after start-up (status --json), $tn at stop; start-up $sn allocations, $sb bytes"
}

# count_lines FILE FIXED_STRING: how many lines of FILE contain the string
count_lines() { grep -cF -- "$2" "$1" 2>/dev/null || true; }

# wait_lines FILE FIXED_STRING COUNT TIMEOUT_S: until FILE has COUNT such lines (dies after)
wait_lines() {
    local f=$1 pat=$2 want=$3 limit=$4 i=0 k
    k=$(awk -v t="$limit" 'BEGIN{printf "%d", t*20}')
    while [ "$i" -le "$k" ]; do
        [ "$(count_lines "$f" "$pat")" -ge "$want" ] && return 0
        sleep 0.05
        i=$((i + 1))
    done
    die "fewer than $want lines '$pat' in $f after ${limit}s"
}

# a TCP listener on 192.0.2.10:8080 in the client namespace (accepts and closes); sets TCP_PID
lvs_tcp_backend() {
    bg_start "$LAB_DIR/tcp-backend.log" "$CLIENT" timeout 600 python3 -c '
import socket
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("192.0.2.10", 8080))
s.listen(64)
while True:
    c, _ = s.accept()
    c.close()
'
    TCP_PID=$BG_PID
    local i=0
    until ip netns exec "$(ns_of "$CLIENT")" ss -Hltn | grep -qF 192.0.2.10:8080; do
        i=$((i + 1))
        [ "$i" -le 100 ] || die "TCP backend did not listen"
        sleep 0.05
    done
}

lvs_heap_run() {
    local last=VI_1 trace wrap real i text start stop growth writes pre main down up rs counts
    bench_conf "$LAB_DIR/lvs.r1.conf" r1 1 100 BACKUP 2 1
    bench_conf "$LAB_DIR/lvs.r2.conf" r2 1 200 MASTER 2 1
    # the configuration r1 reloads into: the same instance plus a virtual server on its VIP
    cp "$LAB_DIR/lvs.r1.conf" "$LAB_DIR/lvs.r1.hup.conf"
    cat >>"$LAB_DIR/lvs.r1.hup.conf" <<'CONF'
virtual_server 192.0.2.100 80 {
    delay_loop 0.5
    lb_algo rr
    lb_kind NAT
    protocol TCP
    real_server 192.0.2.10 8080 {
        TCP_CHECK {
            connect_timeout 0.5
            retry 0
            warmup 0
        }
    }
    real_server 192.0.2.10 8081 {
        HTTP_GET {
            url {
                path /index.html
                status_code 200
            }
            connect_timeout 0.5
            retry 0
            warmup 0
        }
    }
}
CONF
    mkdir -p "$LAB_DIR/www"
    echo hello >"$LAB_DIR/www/index.html"
    lvs_tcp_backend
    bg_start "$LAB_DIR/http-backend.log" "$CLIENT" timeout 600 python3 -m http.server \
        --bind 192.0.2.10 --directory "$LAB_DIR/www" 8081
    trace=$LAB_DIR/lvs.r1.strace
    wrap=$LAB_DIR/strace-keepvip-lvs.sh
    printf '#!/bin/sh\nexec strace -f -qq -s 200 -e trace=brk,mmap,munmap,mremap,write -o %q %q "$@"\n' \
        "$trace" "$KEEPVIP_LVS_BIN" >"$wrap"
    chmod +x "$wrap"
    start_router r2 keepvip "$LAB_DIR/lvs.r2.conf"
    wait_master r2 10 "$last"
    KEEPVIP_BIN=$wrap start_router r1 keepvip "$LAB_DIR/lvs.r1.conf"
    wait_backup r1 20 "$last"
    wait_for "${R_LOG[r1]}" "startup complete" 10 || die "r1 did not finish start-up"
    real=$(cat "$LAB_DIR/run/r1.pid")
    LAB_BG+=("$real")
    # SIGHUP: the first virtual server (the daemon allocated its LVS side at start-up)
    # (keepvip reloads the file it was started with)
    cp "$LAB_DIR/lvs.r1.hup.conf" "$LAB_DIR/lvs.r1.conf"
    kill -HUP "$real"
    wait_for "${R_LOG[r1]}" "Configuration reloaded" 10 || die "r1 did not reload"
    rs="[192.0.2.10]:tcp:8080"
    wait_for "${R_LOG[r1]}" "TCP connection to $rs success." 10 || die "no TCP_CHECK success"
    wait_for "${R_LOG[r1]}" "Remote Web server [192.0.2.10]:tcp:8081 succeed on service." 10 ||
        die "no HTTP_GET success"
    for i in 1 2 3; do
        kill -TERM "$TCP_PID"
        wait_pid_gone "$TCP_PID" 5 || die "TCP backend $TCP_PID did not stop"
        wait_lines "${R_LOG[r1]}" "Removing service $rs from VS" "$i" 10
        lvs_tcp_backend
        wait_lines "${R_LOG[r1]}" "Adding service $rs to VS" "$i" 10
        if [ "$i" -le 2 ]; then
            stop_router r2 KILL
            wait_count r1 MASTER "$last" "$i" 15
            start_router r2 keepvip "$LAB_DIR/lvs.r2.conf"
            wait_master r2 10 "$last"
            wait_count r1 BACKUP "$last" $((i + 1)) 15
        fi
        say "lvsheap: round $i done (TCP backend down and up$([ "$i" -le 2 ] && echo ', r1 backup -> master -> backup'))"
    done
    sleep 1
    counts=$(alloc_counts "$KEEPVIP_LVS_BIN" "$LAB_DIR/run/r1.pid")
    kill -TERM "$real"
    wait_pid_gone "${R_PID[r1]}" 10 || die "traced r1 did not stop"
    stop_router r2 TERM
    check_allocs "lvsheap" "$counts" "$(stop_allocs "${R_LOG[r1]}")"
    LVS_ALLOC_ROW=$ALLOC_ROW
    down=$(count_lines "${R_LOG[r1]}" "Removing service $rs from VS")
    up=$(count_lines "${R_LOG[r1]}" "Adding service $rs to VS")
    main=$(head -n1 "$trace" | awk '{print $1}')
    start=$(grep -n 'write(.*startup complete' "$trace" | head -n1 | cut -d: -f1)
    stop=$(grep -n 'write(.*\] Stopping' "$trace" | head -n1 | cut -d: -f1)
    [ -n "$start" ] || die "no start-up marker in $trace"
    if [ -z "$stop" ] || [ "$stop" -le "$start" ]; then die "no 'Stopping' after the marker in $trace"; fi
    pre=$(head -n "$start" "$trace" | awk -v p="$main" '$1 == p' | grep -cE ' (brk|mmap)\(' || true)
    [ "$pre" -gt 0 ] || die "no brk/mmap traced before the marker: is the strace filter right?"
    text=$(sed -n "$((start + 1)),$((stop - 1))p" "$trace" | awk -v p="$main" '$1 == p')
    growth=$(printf '%s\n' "$text" | grep -cE ' (brk|mmap|munmap|mremap)\(' || true)
    writes=$(printf '%s\n' "$text" | grep -c ' write(' || true)
    [ "$writes" -gt 20 ] || die "only $writes log writes traced between start-up and stop: too little activity"
    grep -qF "Reloading configuration" "${R_LOG[r1]}" || die "r1 was not reloaded"
    LVS_HEAP_LINE="| heap growth after start-up, lvs profile (brk/mmap/munmap/mremap) | $growth calls | 0 | $pre before the marker, $writes log writes after it: SIGHUP adding the first virtual_server, $down TCP server downs and $up ups, 2 failovers + 2 preemptions, modprobe ip_vs (a child, not counted); $(basename "$(dirname "$(dirname "$KEEPVIP_LVS_BIN")")")/x86_64 binary, $(stat -c %s "$KEEPVIP_LVS_BIN") bytes |"
    if [ "$growth" -ne 0 ]; then
        BUDGET_FAILED=1
        warn "heap growth after start-up (lvs profile):"
        printf '%s\n' "$text" | grep -E ' (brk|mmap|munmap|mremap)\(' | head -n 20 >&2
    fi
    say "lvsheap: $growth brk/mmap/munmap/mremap calls after start-up ($writes log writes traced)"
}

HEAP_LINE=
LVS_HEAP_LINE=
HEAP_ALLOC_ROW=
LVS_ALLOC_ROW=
for c in "${checks[@]}"; do
    case $c in
    rss)
        rss_run 1 "$LIMIT_1" "$GOAL_1"
        rss_run 100 "$LIMIT_100" "$GOAL_100"
        ;;
    heap) heap_run ;;
    lvsheap) lvs_heap_run ;;
    esac
done

echo
echo "Budgets: $KEEPVIP_BIN ($(stat -c %s "$KEEPVIP_BIN") bytes), $(uname -m), kernel $(uname -r), page size $(getconf PAGESIZE)"
if [ ${#ROWS[@]} -gt 0 ]; then
    echo
    echo "| instances | router | VmHWM KiB | VmRSS KiB | RssAnon KiB | RssFile KiB | VmStk KiB | budget |"
    echo "|---:|---|---:|---:|---:|---:|---:|---|"
    printf '%s\n' "${ROWS[@]}"
fi
if [ -n "$HEAP_LINE$LVS_HEAP_LINE" ]; then
    echo
    echo "| check | measured | limit | notes |"
    echo "|---|---:|---:|---|"
    [ -z "$HEAP_LINE" ] || echo "$HEAP_LINE"
    [ -z "$HEAP_ALLOC_ROW" ] || echo "$HEAP_ALLOC_ROW"
    [ -z "$LVS_HEAP_LINE" ] || echo "$LVS_HEAP_LINE"
    [ -z "$LVS_ALLOC_ROW" ] || echo "$LVS_ALLOC_ROW"
fi
echo
if [ "$BUDGET_FAILED" != 0 ]; then die "a budget was exceeded (see the tables)"; fi
say "budgets ok"
