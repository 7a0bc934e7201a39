#!/usr/bin/env bash
# tests/lint_core.sh - house rule 1: the protocol core never reads the clock, never touches a
# socket or libc, and has no unsafe code. Checked by grep over the core modules (the compiler
# already enforces #![deny(unsafe_code)] outside src/sys; this also catches clock and I/O use).
# No exemption: the file-system ConfigSource the shell passes into the pure parser lives in
# src/sys/config_fs.rs.
set -euo pipefail
cd "$(dirname "$0")/.."

core=(src/time.rs src/wire src/config src/vrrp)
[ -d src/track ] && core+=(src/track)
[ -f src/notify.rs ] && core+=(src/notify.rs)
[ -d src/lvs ] && core+=(src/lvs)

pattern='unsafe|libc::|std::time|SystemTime|Instant::now|smoltcp::time|std::net::(Udp|Tcp)|std::os::|std::process|std::thread|std::fs|File::open'
hits=$(grep -rnE "$pattern" "${core[@]}" --include='*.rs' | grep -vE '(^|/)tests(.rs|/)' | grep -vE '^\S+:[0-9]+:\s*//' || true)
if [ -n "$hits" ]; then
    echo "lint_core: forbidden clock/socket/unsafe use in the protocol core:" >&2
    echo "$hits" >&2
    exit 1
fi
echo "lint_core: ok (${core[*]})"
