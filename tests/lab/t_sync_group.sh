#!/usr/bin/env bash
# vrrp_sync_group: r1 (priority 200) and r2 (100) each run VI_1 (vrid 51, 192.0.2.100) and
# VI_2 (vrid 52, 192.0.2.101) in group G; VI_2 tracks trk0, one end of a veth pair inside the
# router's own namespace (no dummy module on every kernel). trk0 down on r1 faults VI_2 there, and the group takes VI_1 into FAULT too:
# both VIPs move to r2 together. trk0 up: r1 preempts both back. kill -9 r1: r2 takes both.
set -Eeuo pipefail
. "$(dirname "$0")/lib.sh"
lab_init sync_group 90
lab_up 2
for r in r1 r2; do
    run ip -n "$(ns_of "$r")" link add trk0 type veth peer name trk0p
    run ip -n "$(ns_of "$r")" link set trk0p up
    run ip -n "$(ns_of "$r")" link set trk0 up
done
# wait_entered NAME STATE INSTANCE N: until NAME's log has N "Entering STATE" lines (10 s)
wait_entered() {
    local i=0
    until [ "$(state_count "$1" "$2" "$3")" -ge "$4" ] || [ "$i" -ge 200 ]; do sleep 0.05; i=$((i + 1)); done
    [ "$(state_count "$1" "$2" "$3")" -ge "$4" ] || die "$1 ($3) did not enter $2 a ${4}th time"
    say "$1 ($3) entered $2 (${4}x)"
}
# Notifications: the group's generic `notify` and `notify_master` append their arguments to
# notify-rN.log, the members' generic `notify` to inotify-rN.log, and every line goes to the
# notify_fifo fifo-rN (read at the end, still open by the daemon: no reader process needed).
# All three are compared below with keepalived's sequence for the same run.
for r in r1 r2; do
    printf '#!/bin/sh\necho "$*" >> %s/notify-%s.log\n' "$LAB_DIR" "$r" > "$LAB_DIR/hook-$r.sh"
    printf '#!/bin/sh\necho "$*" >> %s/inotify-%s.log\n' "$LAB_DIR" "$r" > "$LAB_DIR/ihook-$r.sh"
    chmod 0755 "$LAB_DIR/hook-$r.sh" "$LAB_DIR/ihook-$r.sh"
    sed -e "/^vrrp_sync_group G {/a\\    notify $LAB_DIR/hook-$r.sh\n    notify_master \"$LAB_DIR/hook-$r.sh specific master\"" \
        -e "/^global_defs {/a\\    enable_script_security\n    script_user root\n    notify_fifo $LAB_DIR/fifo-$r" \
        -e "/^vrrp_instance VI_[12] {/a\\    notify $LAB_DIR/ihook-$r.sh" \
        "$LAB_CONF/sync.$r.conf" > "$LAB_DIR/sync.$r.conf"
done
capture_start
start_router r1 "$IMPL1" "$LAB_DIR/sync.r1.conf"
start_router r2 "$IMPL2" "$LAB_DIR/sync.r2.conf"
wait_master r1 10 VI_1
wait_master r1 10 VI_2
wait_vip "$VIP4" r1 5
wait_vip "$VIP4B" r1 5
[ -z "$(grep -F 'Entering MASTER STATE' "${R_LOG[r2]}" || true)" ] || die "r2 became master at start"
assert_stable 2 r1:51 r1:52

t_down=$EPOCHREALTIME
run ip -n "$(ns_of r1)" link set trk0 down
say "r1: trk0 down"
wait_fault r1 5 VI_2
wait_fault r1 5 VI_1
wait_master r2 10 VI_1
wait_master r2 10 VI_2
wait_vip "$VIP4" r2 5
wait_vip "$VIP4B" r2 5
say "both VIPs on r2 $(ms_between "$t_down" "$EPOCHREALTIME") ms after trk0 went down on r1"
client_reach "$VIP4" r2
client_reach "$VIP4B" r2

run ip -n "$(ns_of r1)" link set trk0 up
say "r1: trk0 up"
wait_entered r1 MASTER VI_1 2
wait_entered r1 MASTER VI_2 2
wait_vip "$VIP4" r1 5
wait_vip "$VIP4B" r1 5
say "r1 is MASTER of both again"
assert_stable 2 r1:51 r1:52

# r1's transitions and group lines, in keepalived's words and order (the same script passes
# with keepalived as r1): the member that moves first, then "Syncing ...", then the other
got=$(grep -oE '\(VI_[12]\) Entering [A-Z]+ STATE( \(init\))?|VRRP_Group\(G\) Syncing instances to [A-Z]+ state' \
      "${R_LOG[r1]}" | paste -sd'|')
want='^\(VI_1\) Entering BACKUP STATE \(init\)\|\(VI_2\) Entering BACKUP STATE \(init\)'
want+='\|\(VI_[12]\) Entering MASTER STATE\|VRRP_Group\(G\) Syncing instances to MASTER state\|\(VI_[12]\) Entering MASTER STATE'
want+='\|\(VI_2\) Entering FAULT STATE\|VRRP_Group\(G\) Syncing instances to FAULT state\|\(VI_1\) Entering FAULT STATE'
want+='\|\(VI_2\) Entering BACKUP STATE\|VRRP_Group\(G\) Syncing instances to BACKUP state\|\(VI_1\) Entering BACKUP STATE'
want+='\|\(VI_[12]\) Entering MASTER STATE\|VRRP_Group\(G\) Syncing instances to MASTER state\|\(VI_[12]\) Entering MASTER STATE$'
printf '%s\n' "$got" | grep -qE "$want" || die "r1's sync group log lines differ from keepalived's: $got"
say "r1 logged the group transitions as keepalived does"

# r1's group notifications so far, as keepalived sends them (BACKUP at start too): GROUP NAME STATE 0, notify_master
# with its own arguments only (commands run asynchronously: give the last one a moment)
sleep 0.3
got=$(paste -sd'|' "$LAB_DIR/notify-r1.log")
want='GROUP G BACKUP 0|GROUP G MASTER 0|specific master|GROUP G FAULT 0|GROUP G BACKUP 0|GROUP G MASTER 0|specific master'
# the two commands of one transition run in parallel: accept either order within a transition
norm() { printf '%s\n' "$1" | sed -e 's/specific master|GROUP G MASTER 0/GROUP G MASTER 0|specific master/g'; }
[ "$(norm "$got")" = "$want" ] || die "r1's group notifications: '$got', expected '$want'"
say "r1's group notifications match keepalived's: $got"

# The members' own notifications (keepalived's send_instance_notifies: INSTANCE NAME STATE
# PRIORITY, none for a state the group already has), each member's in order (the commands of
# one transition run in parallel), and the FIFO, whose lines are written in order.
for i in VI_1 VI_2; do
    got=$(grep -F "INSTANCE $i " "$LAB_DIR/inotify-r1.log" | paste -sd'|')
    want="INSTANCE $i BACKUP 200|INSTANCE $i MASTER 200|INSTANCE $i FAULT 200|INSTANCE $i BACKUP 200|INSTANCE $i MASTER 200"
    [ "$got" = "$want" ] || die "r1's $i notifications: '$got', expected '$want'"
done
say "r1's member notifications match keepalived's"
got=$(dd if="$LAB_DIR/fifo-r1" iflag=nonblock bs=65536 count=1 status=none 2>/dev/null | paste -sd'|')
say "r1's FIFO: $got"
# both members MASTER, the one whose timer expired last first
m='(INSTANCE "VI_1" MASTER 200\|INSTANCE "VI_2" MASTER 200|INSTANCE "VI_2" MASTER 200\|INSTANCE "VI_1" MASTER 200)'
want='GROUP "G" BACKUP 0\|INSTANCE "VI_1" BACKUP 200\|INSTANCE "VI_2" BACKUP 200'
want+="\\|$m"'\|GROUP "G" MASTER 0'
want+='\|INSTANCE "VI_2" FAULT 200\|INSTANCE "VI_1" FAULT 200\|GROUP "G" FAULT 0'
want+='\|INSTANCE "VI_2" BACKUP 200\|INSTANCE "VI_1" BACKUP 200\|GROUP "G" BACKUP 0'
want+="\\|$m"'\|GROUP "G" MASTER 0'
# then MASTER_RX_LOWER_PRI for each advert r1 heard from r2 while r1 was master again (r2's
# last adverts before it stepped down: timing, and higher_prio_send_advert on the other side)
want+='(\|INSTANCE "VI_[12]" MASTER_RX_LOWER_PRI 200){0,6}'
printf '%s\n' "$got" | grep -qxE "$want" || die "r1's FIFO lines differ from keepalived's: $got"
say "r1's FIFO lines match keepalived's"

stop_router r1 KILL
t_kill=$STOP_T
wait_entered r2 MASTER VI_1 2
wait_entered r2 MASTER VI_2 2
# r1's namespace keeps the addresses of the killed daemon (removed when it starts again)
wait_vip "$VIP4" "r1 r2" 5
wait_vip "$VIP4B" "r1 r2" 5
client_reach "$VIP4" r2
client_reach "$VIP4B" r2
sleep 1
capture_stop
check_stable_windows "$CAP_PCAP"
report_failover "$CAP_PCAP" r1 r2 "$t_kill" 51
check_checksums "$CAP_PCAP" r1 r2
timeline "$CAP_PCAP"
