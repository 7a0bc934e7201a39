#!/usr/bin/env bash
# Bad input on reload: the master's configuration file is replaced by one with every kind of error
# (tests/fixtures/broken/every-kind.conf) and the master gets SIGHUP. It logs every error with
# file:line, keeps the running configuration (no state change, its adverts stay on time, the VIP
# stays), and a later SIGHUP with a good file (one instance added) is applied without touching the
# running instance. keepvip as r1 only (the reload semantics under test are keepvip's).
set -Eeuo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/faults_lib.sh"
[ "$IMPL1" = keepvip ] || { echo "t_reload_broken: keepvip's reload (IMPL1=keepvip only); skipped for $IMPL1"; exit 0; }
lab_init reload_broken 90
lab_up 2
capture_start
conf=$LAB_DIR/r1.live.conf
cp "$LAB_CONF/v2.r1.conf" "$conf"
start_router r1 keepvip "$conf"
start_router r2 "$IMPL2" "$LAB_CONF/v2.r2.conf"
wait_master r1 10
wait_backup r2 10
wait_vip "$VIP4" r1 5
sleep 1

cp "$LAB_REPO/tests/fixtures/broken/every-kind.conf" "$conf"
log=${R_LOG[r1]}
nbefore=$(wc -l <"$log")
t_hup=$EPOCHREALTIME
stop_router r1 HUP
wait_for "$log" "keeping the running configuration" 5 || die "no 'keeping the running configuration' after the broken reload"
tail -n +"$((nbefore + 1))" "$log" | grep -E "$conf:[0-9]+:[0-9]+: error" | sed 's/^/    /'
errs=$(tail -n +"$((nbefore + 1))" "$log" | grep -cE "$conf:[0-9]+:[0-9]+: error" || true)
say "RELOAD (broken): $errs errors logged with file:line, running configuration kept"
for at in 6:9 7:1 12:23 26:5 38:1; do
    tail -n +"$((nbefore + 1))" "$log" | grep -qF "$conf:$at: error" || die "error at $conf:$at not logged"
done
tail -n +"$((nbefore + 1))" "$log" | grep -qE "$conf:[0-9]+:9: error: too many virtual_ipaddress" || die "VIP capacity error not logged"
assert_stable 3 r1
t_after=$EPOCHREALTIME
[ "$(who_has_vip "$VIP4")" = r1 ] || die "VIP moved during the broken reload"
router_running r1 || die "r1 exited on a broken reload"

# a good file again, with a second instance: applied, VI_1 untouched
{ cat "$LAB_CONF/v2.r1.conf"; sed -n '/^vrrp_instance/,$p' "$LAB_CONF/two.r1.conf" | sed '/^vrrp_instance VI_1/,/^}/d'; } >"$conf"
grep -c '^vrrp_instance' "$conf" | grep -qx 2 || die "could not build the second config"
nbefore=$(wc -l <"$log")
stop_router r1 HUP
wait_for "$log" "Configuration reloaded" 5 || die "the good reload after the broken one was not applied"
tail -n +"$((nbefore + 1))" "$log" | grep -F "Configuration reloaded" | sed 's/^/    /'
tail -n +"$((nbefore + 1))" "$log" | grep -qF "Configuration reloaded: 1 instance(s) unchanged, 0 stopped, 1 started" ||
    die "VI_1 was not kept unchanged by the good reload"
! tail -n +"$((nbefore + 1))" "$log" | grep -qF "(VI_1) Entering" || die "VI_1 changed state on the good reload"
wait_master r1 10 VI_2
sleep 1
capture_stop
advert_gap "$CAP_PCAP" r1 51 "$(awk -v t="$t_hup" 'BEGIN{printf "%.6f", t - 1.5}')" "$t_after"
say "RELOAD (broken): r1's largest advert gap around the SIGHUP: $GAP_MS ms ($GAP_N adverts)"
awk -v g="$GAP_MS" 'BEGIN{exit !(g < 1200)}' || die "advert gap $GAP_MS ms around the broken reload"
check_checksums "$CAP_PCAP" r1
