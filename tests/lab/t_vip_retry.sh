#!/usr/bin/env bash
# Bad input from the kernel: a VIP request the kernel refuses is logged once and retried on a
# schedule (1 s, 2 s, 4 s, 8 s, ... up to every 30 s) until it is accepted, which is logged again.
# IPv6 is disabled on r1's eth0, so the kernel refuses the instance's IPv6 (excluded) VIP while it
# accepts the IPv4 one; after about 8 s IPv6 is enabled again and the next retry adds the address.
# keepvip only (keepalived logs every failure and does not retry).
set -Eeuo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/faults_lib.sh"
[ "$IMPL1" = keepvip ] || { echo "t_vip_retry: keepvip's retry schedule (IMPL1=keepvip only); skipped for $IMPL1"; exit 0; }
VIP6X=2001:db8::100
lab_init vip_retry 90
lab_up 1
ns1=$(ns_of r1)
ip netns exec "$ns1" sysctl -qw net.ipv6.conf.eth0.disable_ipv6=1
KEEPVIP_ARGS="-D ${KEEPVIP_ARGS:-}" start_router r1 keepvip "$LAB_CONF/vip-retry.r1.conf"
wait_master r1 10
t_master=$EPOCHREALTIME
wait_vip "$VIP4" r1 5
log=${R_LOG[r1]}
wait_for "$log" "cannot add VIP $VIP6X" 3 || die "the refused IPv6 VIP was not logged"
grep -F "cannot add VIP $VIP6X" "$log" | head -n 1 | sed 's/^/    /'
# watch the retries for about 8 s: when each one is sent
times=()
n0=0
end=$(awk -v t="$EPOCHREALTIME" 'BEGIN{printf "%.6f", t + 8.5}')
while awk -v n="$EPOCHREALTIME" -v e="$end" 'BEGIN{exit !(n < e)}'; do
    n=$(grep -c "retrying to add its VIPs" "$log" || true)
    if [ "$n" -gt "$n0" ]; then
        times+=("$(ms_between "$t_master" "$EPOCHREALTIME")")
        n0=$n
    fi
    sleep 0.02
done
say "RETRY: attempts at +${times[*]} ms after becoming master (schedule 1 s, 2 s, 4 s, ...)"
[ "${#times[@]}" -ge 3 ] || die "only ${#times[@]} retries in 8 s"
errors_logged=$(grep -F "cannot add VIP $VIP6X" "$log" | grep -vc "attempt" || true)
say "RETRY: $errors_logged error line(s) for ${#times[@]} refused retries"
[ "$errors_logged" = 1 ] || die "the refusal was logged $errors_logged times"
# gaps double: the third gap is longer than the first
gaps=$(printf '%s\n' 0 "${times[@]}" | awk 'NR > 1 {printf "%d ", $1 - p} {p = $1}')
say "RETRY: gaps between attempts (ms): $gaps"
printf '%s\n' $gaps | awk 'NR == 2 {a = $1} NR == 3 {b = $1} END {exit !(b > a * 1.5)}' || die "the retries do not back off: $gaps"

# the kernel accepts again: the next retry adds the address, and says so
ip netns exec "$ns1" sysctl -qw net.ipv6.conf.eth0.disable_ipv6=0
t_fix=$EPOCHREALTIME
i=0
until ip -n "$ns1" -6 -o addr show dev eth0 | grep -qF "$VIP6X/"; do
    i=$((i + 1))
    [ "$i" -le 700 ] || die "the IPv6 VIP was not added within 35 s of IPv6 being enabled"
    sleep 0.05
done
say "RETRY: $VIP6X added $(ms_between "$t_fix" "$EPOCHREALTIME") ms after IPv6 was enabled (the next scheduled retry)"
wait_for "$log" "VIPs applied after" 3 || die "the end of the failure streak was not logged"
grep -F "VIPs applied after" "$log" | sed 's/^/    /'
[ "$(state_count r1 MASTER)" = 1 ] || die "r1 changed state"
stop_router r1 TERM
[ -z "$(who_has_vip "$VIP4")" ] || die "VIP left after SIGTERM"
