# shellcheck shell=sh
# keepvip for OpenWrt's rpcd `keepalived dump` (LuCI's "Keepalived Instances" status page).
# Installed as /usr/libexec/keepalived/rpc/keepvip.sh: the keepalived package's rpcd plugin
# (/usr/libexec/rpcd/keepalived) sources every *.sh file of that directory before it runs.
#
# Its `dump` method removes /tmp/keepalived.json, runs `pidof /usr/sbin/keepalived`, sends
# `kill -37` to the pids it got and returns `{ "status": <the file> }`. pidof only finds a
# process whose executable is /usr/sbin/keepalived, so keepvip would never be asked. This file
# wraps pidof for that one call while keepalived itself is not running: it writes
# /tmp/keepalived.json (temp file + mv) from `keepvip status --json` (keepalived's JSON schema,
# answered by the daemon over its status socket, so the file is complete before the plugin
# reads it) and prints keepvip's pid. The plugin's `kill -37` then reaches keepvip (signal 37 is
# keepvip's JSON dump, SIGRTMIN+2 on musl), which writes its own JSON dump (to
# /tmp/keepalived.json with --keepalived-compat, otherwise to /tmp/keepvip.json).
#
# Any other pidof call goes to the real pidof unchanged. POSIX sh (no `local`: the kv_* names
# are this file's). The variables below exist for tests.

KEEPVIP_BIN=${KEEPVIP_BIN:-/usr/sbin/keepvip}
KEEPVIP_PID_FILE=${KEEPVIP_PID_FILE:-/var/run/keepvip.pid}
KEEPVIP_RPC_JSON=${KEEPVIP_RPC_JSON:-/tmp/keepalived.json}

keepvip_real_pidof() {
	if [ -n "${KEEPVIP_PIDOF:-}" ]; then
		"$KEEPVIP_PIDOF" "$@"
	else
		command pidof "$@"
	fi
}

# writes the JSON file for the plugin and prints keepvip's pid; fails if keepvip does not answer
keepvip_rpc_dump() {
	kv_pid=$(cat "$KEEPVIP_PID_FILE" 2>/dev/null) || return 1
	case "$kv_pid" in '' | *[!0-9]*) return 1 ;; esac
	kill -0 "$kv_pid" 2>/dev/null || return 1
	kv_tmp="$KEEPVIP_RPC_JSON.keepvip.$$"
	if "$KEEPVIP_BIN" status -p "$KEEPVIP_PID_FILE" --json >"$kv_tmp" 2>/dev/null; then
		mv -f "$kv_tmp" "$KEEPVIP_RPC_JSON" || { rm -f "$kv_tmp"; return 1; }
		echo "$kv_pid"
	else
		rm -f "$kv_tmp"
		return 1
	fi
}

pidof() {
	kv_out=$(keepvip_real_pidof "$@")
	kv_rc=$?
	if [ "$kv_rc" -ne 0 ] && [ "$#" -eq 1 ] && [ "$1" = /usr/sbin/keepalived ]; then
		keepvip_rpc_dump
		return
	fi
	[ -n "$kv_out" ] && echo "$kv_out"
	return "$kv_rc"
}

# no extra ubus method for this file (the plugin lists one per file unless NAME_help exists)
keepvip_help() {
	:
}
