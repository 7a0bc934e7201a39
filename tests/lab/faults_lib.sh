# shellcheck shell=bash
# shellcheck disable=SC2034  # variables are used by the scenario scripts that source this file
# tests/lab/faults_lib.sh: helpers of the fault scenarios (t_kill_restart, t_link_flap,
# t_partition, t_flood) and of t_sigterm (term_timed). Source it after lib.sh. Every wait is
# bounded; background helpers are registered in LAB_BG so that lab_cleanup stops them (by PID).

# vrrp_pid NAME: the process of router NAME that speaks VRRP (keepalived: its VRRP child)
vrrp_pid() {
    echo "${R_CHILD[$1]:-${R_PID[$1]}}"
}

# rss_kb NAME: resident set size (VmRSS, KiB) of router NAME's VRRP process
rss_kb() {
    awk '/^VmRSS:/ {print $2}' "/proc/$(vrrp_pid "$1")/status" 2>/dev/null
}

# mem_map NAME: "VmData KiB, heap mapping size KiB" of router NAME's daemon (what it has mapped,
# not what it has touched: RSS still grows while pages of the binary and of an existing heap are
# touched for the first time)
mem_map() {
    local pid data range='' heap=0
    pid=$(vrrp_pid "$1")
    data=$(awk '/^VmData:/ {print $2}' "/proc/$pid/status" 2>/dev/null)
    for range in $(awk '/\[heap\]/ {print $1}' "/proc/$pid/maps" 2>/dev/null); do
        heap=$((heap + ($(printf '%d' "0x${range#*-}") - $(printf '%d' "0x${range%-*}")) / 1024))
    done
    echo "VmData ${data} KiB, heap ${heap} KiB"
}

# term_timed NAME: SIGTERM to router NAME, timed with a pidfd (microsecond resolution, not the
# 20 ms polling of stop_router). Sets EXIT_MS and STOP_T (epoch when the signal was sent).
term_timed() {
    local n=$1 pid out
    pid=${R_PID[$n]}
    out=$(python3 - "$pid" <<'EOF'
import os, select, signal, sys, time
pid = int(sys.argv[1])
fd = os.pidfd_open(pid)
t_epoch = time.time()
t0 = time.monotonic()
os.kill(pid, signal.SIGTERM)
p = select.poll()
p.register(fd, select.POLLIN)
ok = p.poll(10000)
dt = (time.monotonic() - t0) * 1000
print(f"{t_epoch:.6f} {dt:.1f}" if ok else f"{t_epoch:.6f} timeout")
EOF
    ) || die "term_timed $n: python failed"
    STOP_T=${out% *}
    EXIT_MS=${out#* }
    [ "$EXIT_MS" != timeout ] || die "$n did not exit within 10 s of SIGTERM"
    wait_pid_gone "$pid" 5 || die "$n still alive after SIGTERM"
    # keepalived: its VRRP child goes with the parent (bounded)
    if [ -n "${R_CHILD[$n]:-}" ] && ! wait_pid_gone "${R_CHILD[$n]}" 5; then
        kill -KILL "${R_CHILD[$n]}" 2>/dev/null
        die "$n: keepalived's VRRP child ${R_CHILD[$n]} still alive 5 s after SIGTERM"
    fi
    say "SIGTERM $n (${R_IMPL[$n]}): exited $EXIT_MS ms after the signal (pidfd)"
}

# capture_filtered NAME BPF: a second capture on the mirror port with a kernel filter (so that a
# flood does not have to go through tcpdump), frames handed over at once (--immediate-mode).
# Sets FCAP_PCAP and FCAP_PID; stop it with capture_filtered_stop.
capture_filtered() {
    FCAP_PCAP=$LAB_DIR/$1.pcap
    ip netns exec "$SW" tcpdump -i "$MON" -n -U --immediate-mode -s 256 -Z root -w "$FCAP_PCAP" "$2" \
        >"$LAB_DIR/$1.tcpdump.txt" 2>&1 </dev/null &
    FCAP_PID=$!
    disown "$FCAP_PID"
    LAB_BG+=("$FCAP_PID")
    wait_for "$LAB_DIR/$1.tcpdump.txt" "listening on" 5 || die "tcpdump $1 did not start"
}
capture_filtered_stop() {
    kill -TERM "$FCAP_PID" 2>/dev/null
    wait_pid_gone "$FCAP_PID" 5 || kill -KILL "$FCAP_PID" 2>/dev/null
    say "capture $(basename "$FCAP_PCAP") stopped: $(grep -h captured "${FCAP_PCAP%.pcap}.tcpdump.txt" || true)"
}

# advert_gap PCAP NAME VRID FROM UNTIL: sets GAP_MS, the largest gap (ms) between two
# consecutive adverts (priority > 0) of NAME for VRID between the epochs FROM and UNTIL, and
# GAP_N, the number of those adverts
advert_gap() {
    local out
    out=$(tshark -r "$1" -Y "vrrp && vrrp.virt_rtr_id == $3 && eth.src == $(mac_of "$2") && vrrp.prio > 0" \
        -T fields -e frame.time_epoch 2>/dev/null |
        awk -v a="$4" -v b="$5" '$1 >= a && $1 <= b { if (n++) { g = ($1 - l) * 1000; if (g > m) m = g }; l = $1 }
            END { printf "%.1f %d\n", m, n }')
    GAP_MS=${out% *}
    GAP_N=${out#* }
}

# prio0_sent PCAP NAME VRID AFTER: epoch of NAME's first priority-0 advert for VRID after AFTER
prio0_sent() {
    tshark -r "$1" -Y "vrrp && vrrp.virt_rtr_id == $3 && eth.src == $(mac_of "$2") && vrrp.prio == 0" \
        -T fields -e frame.time_epoch 2>/dev/null | awk -v a="$4" '$1 > a { print; exit }'
}

# arp_table PCAP ADDR: one line per ARP frame about ADDR:
#   epoch opcode eth_src sender_ip target_ip   (GARPs have sender_ip == target_ip == ADDR)
arp_table() {
    tshark -r "$1" -Y "arp && (arp.src.proto_ipv4 == $2 || arp.dst.proto_ipv4 == $2)" \
        -T fields -E separator=' ' -e frame.time_epoch -e arp.opcode -e eth.src \
        -e arp.src.proto_ipv4 -e arp.dst.proto_ipv4 2>/dev/null
}

# arp_dups PCAP ADDR FROM UNTIL: the ARP requests of the client for ADDR between FROM and UNTIL
# that were answered by two or more MACs (the address held by two routers at once). Prints
# "REQUESTS DUPLICATES" and, on stderr, one line per duplicate.
arp_dups() {
    arp_table "$1" "$2" | awk -v vip="$2" -v c="$(mac_of c)" -v a="$3" -v b="$4" '
        function flush() { if (open) { n = 0; for (m in seen) n++; if (n >= 2) { d++; printf "  duplicate: request at %.3f answered by %d MACs\n", t, n > "/dev/stderr" } } delete seen; open = 0 }
        $1 < a || $1 > b { next }
        $2 == 1 && $3 == c && $5 == vip { flush(); open = 1; t = $1; r++; next }
        $2 == 2 && $4 == vip && open { seen[$3] = 1 }
        END { flush(); printf "%d %d\n", r, d + 0 }'
}

# vip_owners_at PCAP ADDR: the MACs that claimed ADDR (ARP replies and GARPs) in the capture,
# with how many frames each
vip_claims() {
    arp_table "$1" "$2" | awk -v vip="$2" '($2 == 2 && $4 == vip) || ($4 == vip && $5 == vip) { n[$3]++ }
        END { for (m in n) printf "%s:%d ", m, n[m]; print "" }'
}

# wait_only_holder ADDR NAME TIMEOUT_S: polls (10 ms) until NAME is the only holder of ADDR;
# prints the epoch when that was first seen
wait_only_holder() {
    local addr=$1 want=$2 limit=$3 i=0 n
    n=$(awk -v t="$limit" 'BEGIN{printf "%d", t*100}')
    while [ "$i" -le "$n" ]; do
        if [ "$(who_has_vip "$addr")" = "$want" ]; then
            echo "$EPOCHREALTIME"
            return 0
        fi
        sleep 0.01
        i=$((i + 1))
    done
    return 1
}

# last_state NAME [INSTANCE]: MASTER/BACKUP/FAULT from the last "Entering" line of NAME's log
last_state() {
    grep -oE "\\(${2:-VI_1}\\) Entering [A-Z]+ STATE" "${R_LOG[$1]}" 2>/dev/null | tail -n 1 | awk '{print $3}'
}
