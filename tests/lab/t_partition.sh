#!/usr/bin/env bash
# Fault test: partition then heal. The switch drops VRRP (IP protocols 112 and 51) between the
# routers (tc on the ingress of their bridge ports; the mirror port still sees every advert): r2 becomes master too, both hold the VIP, and the client follows r2's GARPs. Then
# the partition heals. Measured and printed (the client pings the VIP every 10 ms):
#   - when exactly one master is left after the heal (the VIP on r1 only),
#   - when the client reaches the VIP at r1 (first echo reply from r1's MAC after the heal), and
#     the longest gap in the client's echo replies.
# For keepvip both must be within one advert interval (1 s; checked with a 250 ms margin):
# the master that steps down sends one advert (higher_prio_send_advert), the winner hears a
# lower priority and re-sends its GARPs. Other implementations are measured, not judged
# (keepalived 2.2.7: nobody re-sends a GARP when r2 hears r1 first, and the client waits for
# its ARP entry to expire).
set -Eeuo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/faults_lib.sh"
WATCH_S=${KVL_PARTITION_WATCH_S:-20}
lab_init partition $((WATCH_S + 90))
lab_up 2
capture_start
start_router r1 "$IMPL1" "$LAB_CONF/v2.r1.conf"
start_router r2 "$IMPL2" "$LAB_CONF/v2.r2.conf"
wait_master r1 10
wait_backup r2 10
wait_vip "$VIP4" r1 5
client_reach "$VIP4" r1
assert_stable 2 r1
bg_start "$LAB_DIR/ping.out" c ping -n -D -i 0.01 -W 1 -w $((WATCH_S + 30)) "$VIP4"
ping_pid=$BG_PID

# tc on the ingress of r1's and r2's bridge ports (the qdisc lib.sh set up for the mirror), ahead
# of the mirror filter: copy the frame to the mirror port, then redirect it to a veth that is down,
# which drops it (only cls_u32 and act_mirred are needed, as for the mirror)
PART_PRIO=7
SINK=$KVL-sink
ip -n "$SW" link add "$SINK" type veth peer name "$SINK"p
partition() {
    local port proto
    for port in "$(port_of r1)" "$(port_of r2)"; do
        for proto in 112 51; do
            ip netns exec "$SW" tc filter add dev "$port" parent ffff: protocol ip prio "$PART_PRIO" \
                u32 match ip protocol "$proto" 0xff \
                action mirred egress mirror dev "$MON" pipe \
                action mirred egress redirect dev "$SINK" >/dev/null
        done
    done
}
heal() {
    local port
    for port in "$(port_of r1)" "$(port_of r2)"; do
        ip netns exec "$SW" tc filter del dev "$port" parent ffff: protocol ip prio "$PART_PRIO"
    done
}

sleep 1
partition
t_part=$EPOCHREALTIME
say "PARTITION: VRRP dropped between r1 and r2"
wait_master r2 10
wait_vip "$VIP4" "r1 r2" 5
say "PARTITION: both masters, the VIP on r1 and r2"
# the client follows r2's GARPs (the case where the heal has to move it back)
i=0
mac2=$(mac_of r2)
until [ "$(ip -n "$(ns_of c)" -4 neigh show "$VIP4" dev eth0 | awk '{for (i = 1; i < NF; i++) if ($i == "lladdr") print $(i + 1)}')" = "$mac2" ]; do
    i=$((i + 1))
    [ "$i" -le 100 ] || die "the client did not follow r2's GARPs during the partition"
    sleep 0.05
done
say "PARTITION: the client's ARP entry for $VIP4 is r2's MAC"
sleep 2

heal
t_heal=$EPOCHREALTIME
say "HEAL: partition removed"
t_one=$(wait_only_holder "$VIP4" r1 "$WATCH_S") || die "still not one master $WATCH_S s after the heal (VIP on '$(who_has_vip "$VIP4")')"
one_ms=$(ms_between "$t_heal" "$t_one")
say "HEAL: exactly one master (the VIP on r1 only) $one_ms ms after the heal"
# watch the client for up to WATCH_S s after the heal
i=0
n=$((WATCH_S * 20))
mac1=$(mac_of r1)
until [ "$(ip -n "$(ns_of c)" -4 neigh show "$VIP4" dev eth0 | awk '{for (i = 1; i < NF; i++) if ($i == "lladdr") print $(i + 1)}')" = "$mac1" ]; do
    i=$((i + 1))
    [ "$i" -le "$n" ] || break
    sleep 0.05
done
sleep 1
kill -INT "$ping_pid" 2>/dev/null || true
wait_pid_gone "$ping_pid" 3 || kill -KILL "$ping_pid" 2>/dev/null || true
sleep 1.5
capture_stop

p=$CAP_PCAP
t_path=$(tshark -r "$p" -Y "icmp.type == 0 && ip.src == $VIP4 && eth.src == $mac1" -T fields -e frame.time_epoch 2>/dev/null |
    awk -v a="$t_heal" '$1 > a { print; exit }')
gap=$(tshark -r "$p" -Y "icmp.type == 0 && ip.src == $VIP4" -T fields -e frame.time_epoch 2>/dev/null |
    awk -v a="$t_heal" -v w="$WATCH_S" '$1 > a - 0.5 && $1 < a + w { if (n++) { g = $1 - l; if (g > m) m = g }; l = $1 } END { printf "%.1f", m * 1000 }')
from2=$(tshark -r "$p" -Y "icmp.type == 0 && ip.src == $VIP4 && eth.src == $mac2" -T fields -e frame.time_epoch 2>/dev/null |
    awk -v a="$t_part" -v b="$t_heal" '$1 > a && $1 < b' | wc -l)
say "PARTITION: $from2 echo replies came from r2 during the partition"
if [ -n "$t_path" ]; then
    path_ms=$(ms_between "$t_heal" "$t_path")
    say "HEAL: the client reaches the VIP at r1 $path_ms ms after the heal; longest gap between echo replies around the heal: $gap ms"
else
    path_ms=none
    say "HEAL: the client did NOT reach the VIP at r1 within $WATCH_S s of the heal; longest gap between echo replies: $gap ms"
fi
say "RESULT ($IMPL1:$IMPL2): one master after $one_ms ms, client path after ${path_ms} ms, longest reply gap $gap ms"
grep -c "bytes from" "$LAB_DIR/ping.out" | sed 's/^/    client echo replies: /'
[ "$from2" -ge 10 ] || die "the client was not served by r2 during the partition: the heal did not have to move it"
if [ "$IMPL1" = keepvip ] && [ "$IMPL2" = keepvip ]; then
    awk -v a="$one_ms" 'BEGIN{exit !(a <= 1250)}' || die "one master only $one_ms ms after the heal (advert interval 1000 ms)"
    [ "$path_ms" != none ] || die "the client never reached the VIP at r1 after the heal"
    awk -v a="$path_ms" 'BEGIN{exit !(a <= 1250)}' || die "the client reached r1 only $path_ms ms after the heal (advert interval 1000 ms)"
fi
timeline "$p" noping
