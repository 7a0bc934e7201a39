#!/usr/bin/env bash
# tests/bench/run.sh - keepvip vs keepalived, side by side in the namespace lab, one run.
#
#   sudo tests/bench/run.sh            full mode (about 15 minutes): writes tests/bench/RESULTS.md
#   sudo tests/bench/run.sh --quick    development mode (about 3 minutes): 2 trials, 10 s CPU
#                                      window; writes $LAB_DIR/RESULTS.md unless --out is given
#   options: --out FILE (where the table goes), --trials N, --cpu-seconds S, --cpu-reps N
#
# Every trial starts a fresh pair of routers of ONE implementation in the lab of tests/lab/lib.sh
# (prefix "kvbench"): r1 priority 200 (master), r2 priority 100 (backup), one instance, and the
# two implementations alternate trial by trial, so the machine's noise hits both alike.
# Measured on the wire (tcpdump on the switch's mirror port, tshark decodes):
#   kill -9       r1 killed; delay = r2's first advert - r1's last advert (VRRPv2, 1 s, and
#                 VRRPv3 at 0.1 s and 0.01 s). Expected: Master_Down_Interval of r2.
#   SIGTERM       r1 stopped cleanly; delay = r2's first advert - r1's priority-0 advert
#                 (expected: Skew_Time); also SIGTERM -> r1's exit.
#   jitter        gaps between r1's adverts while it is master (median, p99, max) at 0.1/0.01 s.
#   RSS           VmHWM from /proc/PID/status: r1 before the kill, r2 after its takeover;
#                 100 instances: after the CPU window.
#   CPU           100 instances, r1 master of all, r2 backup of all: utime+stime from
#                 /proc/PID/stat over the window, after the GARP bursts are over.
#   size          keepvip's static binary; keepalived's binary plus every shared library its
#                 VRRP process maps (/proc/PID/maps), file sizes summed.
# keepalived forks a VRRP child: it is the process that does the work, and the one measured
# (RSS, CPU); the parent's figures are added in a second number.
#
# Environment: KEEPVIP_BIN (default target/board/x86_64-unknown-linux-musl/keepvip, the static
# router build, (re)built with board/build.sh first), KEEPALIVED_BIN, KVL_* (tests/lab/lib.sh).
set -Eeuo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)

MODE=full OUT='' TRIALS='' CPU_S='' CPU_REPS=''
while [ $# -gt 0 ]; do
    case $1 in
    --quick) MODE=quick; shift ;;
    --out) OUT=$2; shift 2 ;;
    --trials) TRIALS=$2; shift 2 ;;
    --cpu-seconds) CPU_S=$2; shift 2 ;;
    --cpu-reps) CPU_REPS=$2; shift 2 ;;
    -h | --help) sed -n '2,30p' "$0"; exit 0 ;;
    *) echo "tests/bench/run.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done
if [ "$MODE" = full ]; then
    : "${TRIALS:=7}" "${CPU_S:=60}" "${CPU_REPS:=3}"
    STABLE_S=3
    BOUND_S=3600
else
    : "${TRIALS:=2}" "${CPU_S:=10}" "${CPU_REPS:=1}"
    STABLE_S=1.5
    BOUND_S=900
fi

if [ -z "${KEEPVIP_BIN:-}" ]; then
    KEEPVIP_BIN=$REPO/target/board/x86_64-unknown-linux-musl/keepvip
    # always through the build (a no-op when it is up to date): a binary left from an older
    # checkout would be measured under the new checkout's name
    echo "[bench] building $KEEPVIP_BIN (board/build.sh)" >&2
    "$REPO/board/build.sh" x86_64-unknown-linux-musl --no-run || exit 1
fi
export KEEPVIP_BIN
export KVL_PREFIX=${KVL_PREFIX:-kvbench}
# the lab checks that both implementations are there
export IMPL1=keepvip IMPL2=keepalived
# shellcheck source-path=SCRIPTDIR source=../lab/lib.sh
. "$REPO/tests/lab/lib.sh"
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$HERE/lib.sh"

lab_init bench "$BOUND_S"
lab_up 2
[ -n "$OUT" ] || { if [ "$MODE" = full ]; then OUT=$HERE/RESULTS.md; else OUT=$LAB_DIR/RESULTS.md; fi; }
IMPLS=(keepvip keepalived)
DATA=$LAB_DIR/data     # one "key impl value" line per sample
: >"$DATA"
record() { echo "$1 $2 $3" >>"$DATA"; }
T_START=$EPOCHREALTIME

# ---------------------------------------------------------------- one failover trial
# trial SCENARIO IMPL K: SCENARIO = kill (v2 1 s), term (v2 1 s), v3-0.1, v3-0.01
trial() {
    local scen=$1 impl=$2 k=$3 ver=2 adv=1 ev=KILL c1 c2 pcap ta tb tl tf t0 flaps w
    case $scen in
    kill) ;;
    term) ev=TERM ;;
    v3-0.1) ver=3 adv=0.1 ;;
    v3-0.01) ver=3 adv=0.01 ;;
    esac
    c1=$LAB_DIR/$scen.r1.conf c2=$LAB_DIR/$scen.r2.conf
    bench_conf "$c1" r1 1 200 MASTER "$ver" "$adv"
    bench_conf "$c2" r2 1 100 BACKUP "$ver" "$adv"
    capture_start "$scen.$impl.$k"
    pcap=$CAP_PCAP
    start_router r1 "$impl" "$c1"
    start_router r2 "$impl" "$c2"
    wait_master r1 15
    wait_backup r2 15
    sleep 0.3
    ta=$EPOCHREALTIME
    sleep "$STABLE_S"
    flaps=$(state_count r2 MASTER)
    if [ "$scen" = kill ]; then
        record rss1_master "$impl" "$(proc_kb "$(worker_pid r1)" VmHWM)"
        record rss1_master_sum "$impl" "$(hwm_all r1)"
    fi
    tb=$EPOCHREALTIME
    stop_router r1 "$ev"
    if [ "$ev" = TERM ]; then record term_exit_ms "$impl" "$STOP_MS"; fi
    wait_count r2 MASTER VI_1 $((flaps + 1)) 15
    # tcpdump gets packets from the kernel in blocks with a 1 s timeout and drops the last
    # block when it is stopped: keep it running past r2's first adverts
    sleep 1.2
    if [ "$scen" = kill ]; then
        record rss1_backup "$impl" "$(proc_kb "$(worker_pid r2)" VmHWM)"
        record rss1_backup_sum "$impl" "$(hwm_all r2)"
    fi
    capture_stop
    stop_router r2 TERM
    [ "$flaps" = 0 ] || warn "$scen $impl trial $k: r2 became master $flaps time(s) while r1 was master"
    record "flaps_$scen" "$impl" "$flaps"
    if [ "$ev" = TERM ]; then
        t0=$(pcap_prio0_advert "$pcap" r1 "$ta")
        [ -n "$t0" ] || die "$scen $impl trial $k: no priority-0 advert from r1"
        tf=$(pcap_first_advert "$pcap" r2 "$t0")
        [ -n "$tf" ] || die "$scen $impl trial $k: no advert from r2 after the priority-0 advert"
        record term_handover_ms "$impl" "$(ms_between "$t0" "$tf")"
        record term_prio0_ms "$impl" "$(ms_between "$tb" "$t0")"
        say "RESULT $scen $impl #$k: handover $(ms_between "$t0" "$tf") ms after the priority-0 advert (SIGTERM -> priority 0: $(ms_between "$tb" "$t0") ms, exit after $STOP_MS ms)"
    else
        tl=$(pcap_last_advert "$pcap" r1 "$tb")
        [ -n "$tl" ] || die "$scen $impl trial $k: no advert from r1 before the kill"
        tf=$(pcap_first_advert "$pcap" r2 "$tl")
        [ -n "$tf" ] || die "$scen $impl trial $k: no advert from r2 after r1's last"
        record "failover_$scen" "$impl" "$(ms_between "$tl" "$tf")"
        say "RESULT $scen $impl #$k: failover $(ms_between "$tl" "$tf") ms after r1's last advert"
        # advert gaps of the master during the stable window
        vrrp_table "$pcap" | awk -v m="$(mac_of r1)" -v a="$ta" -v b="$tb" -v key="gap_$scen" -v impl="$impl" \
            '$2 == m && $5 > 0 && $1 >= a && $1 <= b { if (p != "") printf "%s %s %.3f\n", key, impl, ($1 - p) * 1000; p = $1 }' >>"$DATA"
    fi
}

# ---------------------------------------------------------------- 100 instances: CPU and RSS
cpu_run() {
    local impl=$1 rep=$2 c1=$LAB_DIR/cpu.r1.conf c2=$LAB_DIR/cpu.r2.conf r w a1 b1 s1 role flaps
    bench_conf "$c1" r1 100 200 MASTER 2 1
    bench_conf "$c2" r2 100 100 BACKUP 2 1
    start_router r1 "$impl" "$c1"
    start_router r2 "$impl" "$c2"
    wait_master r1 20 VI_100
    wait_backup r2 20 VI_100
    # past the second GARP burst (garp_master_delay 5 s) of the last instance
    sleep 6
    declare -A c0=() p0=() k0=()
    for r in r1 r2; do
        w=$(worker_pid "$r")
        c0[$r]=$(proc_cpu_ticks "$w")
        k0[$r]=$(awk '{print $1}' "/proc/$w/schedstat")
        p0[$r]=0
        [ "$w" = "${R_PID[$r]}" ] || p0[$r]=$(proc_cpu_ticks "${R_PID[$r]}")
    done
    say "CPU window: ${CPU_S}s, $impl, 100 instances"
    sleep "$CPU_S"
    flaps=$(state_count r2 MASTER VI_100)
    for r in r1 r2; do
        w=$(worker_pid "$r")
        a1=$(proc_cpu_ticks "$w")
        s1=$(awk '{print $1}' "/proc/$w/schedstat")
        b1=0
        [ "$w" = "${R_PID[$r]}" ] || b1=$(proc_cpu_ticks "${R_PID[$r]}")
        case $r in r1) role=master ;; r2) role=backup ;; esac
        record "cpu_$role" "$impl" "$(awk -v d=$((a1 - c0[$r])) -v t="$CLK_TCK" 'BEGIN{printf "%.0f", d * 1000 / t}')"
        record "cpu_${role}_sum" "$impl" "$(awk -v d=$((a1 - c0[$r] + b1 - p0[$r])) -v t="$CLK_TCK" 'BEGIN{printf "%.0f", d * 1000 / t}')"
        record "sched_$role" "$impl" "$(awk -v d=$((s1 - k0[$r])) 'BEGIN{printf "%.1f", d / 1e6}')"
        record "rss100_$role" "$impl" "$(proc_kb "$w" VmHWM)"
        record "rss100_${role}_sum" "$impl" "$(hwm_all "$r")"
        say "RESULT cpu $impl #$rep $r ($role): utime+stime $(( (a1 - c0[$r]) * 1000 / CLK_TCK )) ms, on CPU $(awk -v d=$((s1 - k0[$r])) 'BEGIN{printf "%.1f", d / 1e6}') ms, VmHWM $(proc_kb "$w" VmHWM) kB"
    done
    [ "$flaps" = 0 ] || warn "cpu $impl: r2 took over VI_100 during the window"
    stop_router r1 TERM
    stop_router r2 TERM
}

# ---------------------------------------------------------------- binary sizes
sizes() {
    local c1=$LAB_DIR/size.r1.conf w libs f total=0 ka
    record size keepvip "$(stat -c %s "$KEEPVIP_BIN")"
    record size_bin keepvip "$(stat -c %s "$KEEPVIP_BIN")"
    bench_conf "$c1" r1 1 200 MASTER 2 1
    start_router r1 keepalived "$c1"
    wait_master r1 15
    w=$(worker_pid r1)
    ka=$(readlink -f "/proc/$w/exe")
    libs=$(awk '$6 ~ /\.so/ {print $6}' "/proc/$w/maps" | sort -u)
    for f in "$ka" $libs; do total=$((total + $(stat -L -c %s "$f"))); done
    record size keepalived "$total"
    record size_bin keepalived "$(stat -L -c %s "$ka")"
    KA_LIBS=$(printf '%s\n' "$libs" | awk 'NF' | wc -l)
    KA_LIBLIST=$(for f in $libs; do basename "$f"; done | tr '\n' ' ')
    stop_router r1 TERM
}

# ---------------------------------------------------------------- run
say "bench: $MODE mode, $TRIALS trials per cell, CPU window ${CPU_S}s x $CPU_REPS, keepvip $KEEPVIP_BIN"
sizes
for ((k = 1; k <= TRIALS; k++)); do
    for scen in kill term v3-0.1 v3-0.01; do
        for impl in "${IMPLS[@]}"; do trial "$scen" "$impl" "$k"; done
    done
done
for ((k = 1; k <= CPU_REPS; k++)); do
    for impl in "${IMPLS[@]}"; do cpu_run "$impl" "$k"; done
done
T_END=$EPOCHREALTIME

# ---------------------------------------------------------------- table
vals() { awk -v k="$1" -v i="$2" '$1 == k && $2 == i {print $3}' "$DATA"; }
# cell KEY IMPL: "median [min-max]" ; med KEY IMPL: the median only
cell() {
    local m lo hi n
    read -r m lo hi n <<<"$(vals "$1" "$2" | stats_line)"
    if [ "$n" = 0 ]; then echo "-"; elif [ "$n" = 1 ]; then echo "$m"; else echo "$m [$lo-$hi]"; fi
}
med() { vals "$1" "$2" | stats_line | awk '{print $1}'; }
count_of() { vals "$1" "$2" | awk 'NF' | wc -l; }
row() { # row LABEL KEY UNIT NOTE
    local a b
    a=$(med "$2" keepvip) b=$(med "$2" keepalived)
    printf '| %s | %s | %s | %s | %s | %s |\n' "$1" "$(cell "$2" keepvip)" "$(cell "$2" keepalived)" \
        "$(ratio "$a" "$b")" "$(count_of "$2" keepvip)/$(count_of "$2" keepalived)" "$4"
}
gaprow() { # gaprow LABEL KEY NOMINAL_MS
    local f1=$LAB_DIR/$2.keepvip f2=$LAB_DIR/$2.keepalived m1 p1 x1 n1 m2 p2 x2 n2
    vals "$2" keepvip >"$f1"
    vals "$2" keepalived >"$f2"
    read -r m1 p1 x1 n1 <<<"$(quantiles "$f1")"
    read -r m2 p2 x2 n2 <<<"$(quantiles "$f2")"
    printf '| %s: gap median | %s | %s | %s | %s/%s | nominal %s ms |\n' "$1" "$m1" "$m2" "$(ratio "$m1" "$m2")" "$n1" "$n2" "$3"
    printf '| %s: gap p99 [max] | %s [%s] | %s [%s] | %s | | |\n' "$1" "$p1" "$x1" "$p2" "$x2" "$(ratio "$p1" "$p2")"
}
flaprow() {
    printf '| %s | %s | %s | | %s/%s | r2 became master while r1 was |\n' "$1" \
        "$(vals "$2" keepvip | awk '{s += $1} END {print s + 0}')" "$(vals "$2" keepalived | awk '{s += $1} END {print s + 0}')" \
        "$(count_of "$2" keepvip)" "$(count_of "$2" keepalived)"
}

KA_VER=$("${KEEPALIVED_BIN:-keepalived}" -v 2>&1 | awk "NR == 1")
KA_PKG=$(dpkg-query -W -f '${Version}' keepalived 2>/dev/null || echo "?")
KV_VER=$("$KEEPVIP_BIN" -v 2>&1 | awk "NR == 1")
GIT_REV=$(git -C "$REPO" rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
git -C "$REPO" diff --quiet HEAD -- src Cargo.toml build.rs 2>/dev/null || GIT_REV="$GIT_REV (with uncommitted changes)"
CPU_MODEL=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
MDI1=$(master_down_ms 100 100 2) SKEW1=$(skew_ms 100 100 2)
MDI01=$(master_down_ms 10 100 3) MDI001=$(master_down_ms 1 100 3)
LOAD=$(cut -d' ' -f1-3 /proc/loadavg)

{
    echo "# keepvip vs keepalived: benchmark"
    echo
    echo "Written by \`sudo tests/bench/run.sh\` ($MODE mode). Both daemons run in the same namespace"
    echo "lab (tests/lab/lib.sh) in the same run, trial by trial in turn. Each trial is a fresh pair of"
    echo "routers of one implementation: r1 priority 200 (master), r2 priority 100 (backup), so"
    echo "each implementation is measured as backup (failover, handover) and as master (advert"
    echo "timing). Delays are from tcpdump timestamps on the switch's mirror port."
    echo
    echo "| | |"
    echo "|---|---|"
    echo "| date | $(date -u '+%Y-%m-%d %H:%M UTC') (run took $(awk -v a="$T_START" -v b="$T_END" 'BEGIN{printf "%.0f", (b-a)/60}') min) |"
    echo "| machine | $CPU_MODEL, $(nproc) cores, $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo), kernel $(uname -r); shared with other jobs (load average at the end: $LOAD) |"
    echo "| keepvip | \`-v\`: $KV_VER; checkout at $GIT_REV; \`$(realpath --relative-to="$REPO" "$KEEPVIP_BIN" 2>/dev/null || echo "$KEEPVIP_BIN")\` (static musl, board/build.sh default profile) |"
    echo "| keepalived | $KA_VER, Debian package $KA_PKG, run as \`keepalived -n -l -D -G -P -R\` (VRRP only, no respawn) |"
    echo "| trials | $TRIALS per implementation and scenario; CPU: $CPU_REPS x ${CPU_S} s per implementation |"
    echo
    echo "Cells: median [min-max] over the trials; n = samples keepvip/keepalived; ratio = keepvip"
    echo "median / keepalived median (below 1: keepvip smaller/faster)."
    echo
    echo "| metric | keepvip | keepalived | ratio | n | notes |"
    echo "|---|---:|---:|---:|---:|---|"
    row "kill -9 failover, VRRPv2 1 s (ms)" failover_kill ms "r1's last advert -> r2's first; Master_Down_Interval $MDI1 ms"
    row "SIGTERM handover, VRRPv2 1 s (ms)" term_handover_ms ms "r1's priority-0 advert -> r2's first; Skew_Time $SKEW1 ms"
    row "SIGTERM -> priority-0 advert (ms)" term_prio0_ms ms "signal sent -> on the wire"
    row "SIGTERM -> master process gone (ms)" term_exit_ms ms "keepalived: parent and VRRP child"
    row "kill -9 failover, VRRPv3 0.1 s (ms)" failover_v3-0.1 ms "Master_Down_Interval $MDI01 ms"
    gaprow "adverts VRRPv3 0.1 s" gap_v3-0.1 100
    row "kill -9 failover, VRRPv3 0.01 s (ms)" failover_v3-0.01 ms "Master_Down_Interval $MDI001 ms"
    gaprow "adverts VRRPv3 0.01 s" gap_v3-0.01 10
    flaprow "spurious takeovers, VRRPv3 0.01 s (count)" flaps_v3-0.01
    flaprow "spurious takeovers, VRRPv3 0.1 s (count)" flaps_v3-0.1
    row "RSS (VmHWM) 1 instance, master (KiB)" rss1_master kB "keepalived: VRRP child"
    row "RSS (VmHWM) 1 instance, backup -> master (KiB)" rss1_backup kB "keepalived: VRRP child"
    row "RSS 1 instance, master, all processes (KiB)" rss1_master_sum kB "keepalived: parent + child VmHWM (shared pages twice)"
    row "RSS (VmHWM) 100 instances, master (KiB)" rss100_master kB "keepalived: VRRP child"
    row "RSS (VmHWM) 100 instances, backup (KiB)" rss100_backup kB "keepalived: VRRP child"
    row "RSS 100 instances, master, all processes (KiB)" rss100_master_sum kB "keepalived: parent + child"
    row "CPU ${CPU_S} s, 100 instances, master (ms)" cpu_master ms "utime+stime, VRRP child; 100 adverts/s sent"
    row "CPU ${CPU_S} s, 100 instances, backup (ms)" cpu_backup ms "utime+stime, VRRP child; 100 adverts/s received"
    row "CPU ${CPU_S} s, 100 instances, master, all processes (ms)" cpu_master_sum ms "keepalived: parent + child"
    row "CPU ${CPU_S} s, 100 instances, backup, all processes (ms)" cpu_backup_sum ms "keepalived: parent + child"
    row "on-CPU ${CPU_S} s, 100 instances, master (ms)" sched_master ms "/proc/PID/schedstat (ns resolution), VRRP child"
    row "on-CPU ${CPU_S} s, 100 instances, backup (ms)" sched_backup ms "/proc/PID/schedstat, VRRP child"
    row "binary size, with libraries (bytes)" size B "keepvip: static, no libraries; keepalived: /usr/sbin/keepalived + the $KA_LIBS shared libraries its VRRP process maps"
    row "binary size, executable file only (bytes)" size_bin B "both stripped"
    echo
    echo "keepalived's shared libraries (file sizes summed, as mapped by the VRRP child): $KA_LIBLIST."
    echo
    echo "Notes: utime+stime have the kernel's tick resolution (1/$CLK_TCK s); the on-CPU rows"
    echo "(schedstat) are exact. A spurious takeover at 10 ms means the backup missed 3 adverts"
    echo "(a 36 ms gap) while the master was alive: scheduling noise on a shared 2-core machine."
    echo "Raw samples (one line each) are in the run's log directory, \`data\`."
} >"$OUT.tmp"
mv "$OUT.tmp" "$OUT"
cat "$OUT"
say "results written to $OUT"
