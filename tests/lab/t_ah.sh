#!/usr/bin/env bash
# VRRPv2 with auth_type AH (IP protocol 51, HMAC-MD5-96, one sequence counter per instance shared by
# receive and transmit): election, SIGTERM handover, restart and preemption (the restarted node
# learns the sequence number before it sends), kill -9 failover. Every AH frame on the wire is
# verified independently (tests/lab/ah_verify.py: Python's hmac), tshark decodes every advert as
# valid VRRP inside AH, and no router logged a refused AH advert.
set -Eeuo pipefail
. "$(dirname "$0")/lib.sh"
lab_init ah 120
lab_up 2
capture_start
start_router r1 "$IMPL1" "$LAB_CONF/ah.r1.conf"
start_router r2 "$IMPL2" "$LAB_CONF/ah.r2.conf"
wait_master r1 10
wait_backup r2 10
wait_vip "$VIP4" r1 5
client_reach "$VIP4" r1
assert_stable 3 r1

# clean stop: priority 0, r2 takes over after Skew_Time
stop_router r1 TERM
t_stop=$STOP_T
wait_master r2 5
wait_vip "$VIP4" r2 5
client_reach "$VIP4" r2
assert_stable 2 r2

# restart r1: BACKUP (init), it hears r2's sequence numbers, then preempts (priority 200 > 100)
start_router r1 "$IMPL1" "$LAB_CONF/ah.r1.conf"
wait_master r1 10
i=0
until [ "$(state_count r2 BACKUP)" -ge 2 ]; do
    i=$((i + 1))
    [ "$i" -le 100 ] || die "r2 did not step down for the restarted r1"
    sleep 0.05
done
wait_vip "$VIP4" r1 5
client_reach "$VIP4" r1
assert_stable 2 r1

# crash: r2 takes over after Master_Down_Interval, continuing the sequence it heard
stop_router r1 KILL
t_kill=$STOP_T
i=0
until [ "$(state_count r2 MASTER)" -ge 2 ]; do
    i=$((i + 1))
    [ "$i" -le 200 ] || die "r2 did not take over after r1's kill -9"
    sleep 0.05
done
say "r2 is MASTER again"
client_reach "$VIP4" r2
sleep 1
for f in "$LAB_DIR"/r*.log; do
    if grep -E 'already processed|invalid IPSEC|AH header but|No AH header' "$f"; then
        die "$(basename "$f"): a router refused an AH advert of its peer"
    fi
done
say "no router refused an AH advert (no replay, ICV or SPI complaint in the logs)"

# r1 back with the wrong password: it must refuse r2's adverts (ICV) and take over (split brain
# by configuration), and r2 must refuse r1's
t_wrong=$EPOCHREALTIME
start_router r1 "$IMPL1" "$LAB_CONF/ah-wrongpass.r1.conf"
wait_master r1 10
wait_for "${R_LOG[r1]}" "invalid IPSEC HMAC-MD5" 3 || die "r1 did not log the ICV failure of r2's adverts"
wait_for "${R_LOG[r2]}" "invalid IPSEC HMAC-MD5" 3 || die "r2 did not log the ICV failure of r1's adverts"
[ "$(state_count r2 BACKUP)" -lt 3 ] || die "r2 stepped down for an advert it cannot verify"
say "wrong auth_pass: both refuse the other's AH adverts (ICV), r1 became master $(ms_between "$t_wrong" "$EPOCHREALTIME") ms after its start, r2 stayed master"
# tcpdump hands frames over in blocks (up to 1 s late): wait before stopping it
sleep 1.5
capture_stop

nonah=$(tshark -r "$CAP_PCAP" -Y 'vrrp && !ah' 2>/dev/null | wc -l)
[ "$nonah" = 0 ] || die "$nonah VRRP frames without AH"
bad=$(tshark -r "$CAP_PCAP" -Y 'vrrp && (vrrp.version != 2 || vrrp.auth_type != 2 || ah.next_header != 112)' 2>/dev/null | wc -l)
[ "$bad" = 0 ] || die "$bad AH adverts that are not VRRPv2 with auth type 2 behind next header 112"
say "tshark: every VRRP advert is VRRPv2 (auth type 2) inside AH"

say "independent AH check (python hmac) of every AH frame:"
python3 "$LAB_SRC/ah_verify.py" "$CAP_PCAP" secret12 --until "$t_wrong" | sed 's/^/    /' ||
    die "AH frames that do not verify (see above)"
say "after r1's restart with the wrong password: r1 signs with it, r2 still with secret12:"
python3 "$LAB_SRC/ah_verify.py" "$CAP_PCAP" wrongpw1 --from "$t_wrong" --src "$(ip4_of r1)" | sed 's/^/    /' ||
    die "r1's AH frames do not verify with its (wrong) password"
python3 "$LAB_SRC/ah_verify.py" "$CAP_PCAP" secret12 --from "$t_wrong" --src "$(ip4_of r2)" | sed 's/^/    /' ||
    die "r2's AH frames do not verify"
check_stable_windows "$CAP_PCAP"
report_handover "$CAP_PCAP" r1 r2 "$t_stop"
report_failover "$CAP_PCAP" r1 r2 "$t_kill"
check_checksums "$CAP_PCAP" r1 r2
timeline "$CAP_PCAP"
