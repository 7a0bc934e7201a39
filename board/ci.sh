#!/usr/bin/env bash
# shellcheck disable=SC2317  # the phase_* functions are called indirectly (file-wide)
# board/ci.sh - router-build checks for .ci/run (issue 5). Installs what it needs (apt, cached
# cross toolchain in /opt/rust-cross), idempotent, exit 0 only if every phase passed.
#
# Usage: board/ci.sh [PHASE...]      default: all phases, in this order
#   scripts     board/tests/test_init.sh (OpenWrt init script against a stub procd, hotplug
#               hook, sh -n, shellcheck), board/tests/test_systemd.sh (systemd-analyze verify)
#               and board/tests/test_openwrt_makefile.sh (package Makefile against a stub SDK)
#   build       board/build.sh all: static stripped release binaries for the five router
#               targets (default profile), checked with file(1) and run under qemu (-v); and
#               the `lvs` profile (load balancing) for mips (run under qemu) and x86_64
#   sizes       size table of those binaries; fails if mips > 400 KiB (goal 300 KiB); the
#               lvs-profile sizes are printed (no limit: the budget is the default profile's)
#   budgets     board/budgets.sh: the x86_64 musl binary run for real in a namespace lab:
#               peak RSS (VmHWM) with 1 and 100 instances against enforced limits, and zero
#               brk/mmap/munmap/mremap after start-up under strace through 3 failovers; the
#               same heap check for the lvs-profile binary with health checkers running
#   test        the full `cargo test` suite for mips-unknown-linux-musl (big-endian, 24Kc)
#               under qemu-user, with KEEPVIP_QEMU=1 (see board/README.md for the contract)
#   configtest  the real mips binary under qemu: `keepvip -t -f FILE` for every file in config/
#               and the packaged OpenWrt config (with and without its example) must pass;
#               board/tests/broken.conf must be rejected
#
# Environment: CARGO_TARGET_DIR (base for the cargo dirs, default <repo>/target),
#   KEEPVIP_CROSS_DIR (see board/build.sh), KEEPVIP_SIZE_LIMIT_MIPS (bytes, default 409600),
#   KEEPVIP_SIZE_GOAL_MIPS (bytes, default 307200), KEEPVIP_RSS_LIMIT_1_KB and
#   KEEPVIP_RSS_LIMIT_100_KB (see board/budgets.sh).
set -uo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO" || exit 1
BOARD_TARGETS=(mips-unknown-linux-musl mipsel-unknown-linux-musl armv7-unknown-linux-musleabihf
               aarch64-unknown-linux-musl x86_64-unknown-linux-musl)
MIPS=mips-unknown-linux-musl
OUT=${KEEPVIP_BOARD_OUT:-$REPO/target/board}
LIMIT_MIPS=${KEEPVIP_SIZE_LIMIT_MIPS:-409600}
GOAL_MIPS=${KEEPVIP_SIZE_GOAL_MIPS:-307200}
BASE_TARGET_DIR=${CARGO_TARGET_DIR:-$REPO/target}

say() { printf '\n[board-ci] === %s\n' "$*"; }
note() { printf '[board-ci] %s\n' "$*"; }

# the cross scripts (same lookup as board/build.sh)
# shellcheck source-path=SCRIPTDIR source=cross-dir.sh
. "$REPO/board/cross-dir.sh"
find_cross() { cross_dir "$REPO"; }

need_file() {
    command -v file >/dev/null 2>&1 && return 0
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 -q install -y --no-install-recommends file >/dev/null ||
        { apt-get -o DPkg::Lock::Timeout=600 -q update >/dev/null &&
          DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 -q install -y --no-install-recommends file >/dev/null; }
}

# ---------------------------------------------------------------- phases
phase_scripts() {
    local rc=0
    "$REPO/board/tests/test_init.sh" || rc=1
    "$REPO/board/tests/test_systemd.sh" || rc=1
    "$REPO/board/tests/test_openwrt_makefile.sh" || rc=1
    return "$rc"
}

phase_build() {
    need_file || { note "cannot install file(1)"; return 1; }
    "$REPO/board/build.sh" all || return 1
    # the load-balancing build: big-endian mips (size, qemu smoke run) and x86_64 (budgets)
    "$REPO/board/build.sh" "$MIPS" --profile lvs || return 1
    "$REPO/board/build.sh" x86_64-unknown-linux-musl --profile lvs --no-run
}

phase_sizes() {
    local t f size rc=0 status
    printf '\n| target | stripped static binary (bytes) | KiB | budget |\n|---|---:|---:|---|\n'
    for t in "${BOARD_TARGETS[@]}"; do
        f=$OUT/$t/keepvip
        if [ ! -f "$f" ]; then printf '| %s | missing | | FAIL |\n' "$t"; rc=1; continue; fi
        size=$(stat -c %s "$f")
        status=""
        if [ "$t" = "$MIPS" ]; then
            if [ "$size" -gt "$LIMIT_MIPS" ]; then status="FAIL: > $((LIMIT_MIPS / 1024)) KiB"; rc=1
            elif [ "$size" -gt "$GOAL_MIPS" ]; then status="ok (over the $((GOAL_MIPS / 1024)) KiB goal)"
            else status="ok (limit $((LIMIT_MIPS / 1024)) KiB, goal $((GOAL_MIPS / 1024)) KiB)"; fi
        fi
        printf '| %s | %s | %s | %s |\n' "$t" "$size" "$(awk -v s="$size" 'BEGIN{printf "%.1f", s/1024}')" "$status"
    done
    # profile lvs (virtual_server health checkers and IPVS): printed, not limited
    local base lvs_size
    printf '\n| target, profile lvs | stripped static binary (bytes) | KiB | vs. default profile |\n|---|---:|---:|---|\n'
    for t in "$MIPS" x86_64-unknown-linux-musl; do
        f=$OUT/lvs/$t/keepvip
        if [ ! -f "$f" ]; then printf '| %s | missing | | FAIL |\n' "$t"; rc=1; continue; fi
        lvs_size=$(stat -c %s "$f")
        if base=$(stat -c %s "$OUT/$t/keepvip" 2>/dev/null); then
            base="+$(awk -v a="$lvs_size" -v b="$base" 'BEGIN{printf "%.1f", (a-b)/1024}') KiB (no limit)"
        else
            base="(default profile binary missing; no limit)"
        fi
        printf '| %s | %s | %s | %s |\n' "$t" "$lvs_size" \
            "$(awk -v s="$lvs_size" 'BEGIN{printf "%.1f", s/1024}')" "$base"
    done
    echo
    return "$rc"
}

phase_budgets() {
    local bin=$OUT/x86_64-unknown-linux-musl/keepvip lvs=$OUT/lvs/x86_64-unknown-linux-musl/keepvip
    [ -x "$bin" ] || { note "$bin missing: run the build phase first"; return 1; }
    [ -x "$lvs" ] || { note "$lvs missing: run the build phase first"; return 1; }
    KEEPVIP_BIN=$bin KEEPVIP_LVS_BIN=$lvs "$REPO/board/budgets.sh"
}

phase_test() {
    local cross
    cross=$(find_cross) || { note "cross scripts not found (set KEEPVIP_CROSS_DIR)"; return 1; }
    # the test build uses std's default features (tests need panic-unwind) and build.rs
    # default capacities, in a cargo dir of its own
    (
        unset CROSS_STD_FEATURES
        for v in $(env | sed -n 's/^\(KEEPVIP_MAX_[A-Z0-9_]*\)=.*/\1/p'); do unset "$v"; done
        export CARGO_TARGET_DIR=$BASE_TARGET_DIR/board-test
        # tests that cannot work under qemu-user check this and skip themselves, saying why
        export KEEPVIP_QEMU=1
        "$cross/cross-build.sh" "$MIPS" test --locked
    )
}

# keepvip -t -f FILE under qemu; prints one result line; returns keepvip's status
config_test() {
    local cross=$1 f=$2 out rc=0
    out=$("$cross/cross-run.sh" "$MIPS" "$OUT/$MIPS/keepvip" -t -f "$f" 2>&1) || rc=$?
    printf '%s\n' "$out" | sed 's/^/      /'
    return "$rc"
}

phase_configtest() {
    local cross bin=$OUT/$MIPS/keepvip f rc=0 n=0 tmp
    cross=$(find_cross) || { note "cross scripts not found (set KEEPVIP_CROSS_DIR)"; return 1; }
    [ -x "$bin" ] || { note "$bin missing: run the build phase first"; return 1; }
    tmp=$(mktemp -d /tmp/kvb-ci.XXXXXX)
    # shellcheck disable=SC2064  # expand now
    trap "rm -rf '$tmp'" RETURN
    "$REPO/board/tests/extract-example.sh" > "$tmp/openwrt-example.conf"

    local files=()
    if [ -d "$REPO/config" ]; then
        mapfile -t files < <(cd "$REPO" && find config -type f ! -name '*.md' ! -name 'README*' | sort)
    fi
    if [ ${#files[@]} -eq 0 ]; then
        note "FAIL: no files in config/ (issue 2 adds the example configs)"; rc=1
    fi
    files+=("board/openwrt/files/keepvip.conf" "$tmp/openwrt-example.conf")
    for f in "${files[@]}"; do
        n=$((n + 1))
        if config_test "$cross" "$f"; then note "ok   keepvip -t -f $f"
        else note "FAIL keepvip -t -f $f (exit $?)"; rc=1; fi
    done
    # negative control: a config test that accepts everything is no test
    if config_test "$cross" board/tests/broken.conf; then
        note "FAIL keepvip -t -f board/tests/broken.conf exited 0: the config test (-t) is missing or accepts broken files"
        rc=1
    else
        note "ok   keepvip -t -f board/tests/broken.conf rejected (exit $?)"
    fi
    note "config test: $n files + 1 negative control"
    return "$rc"
}

# ---------------------------------------------------------------- main
ALL=(scripts build sizes budgets test configtest)
if [ $# -gt 0 ]; then PHASES=("$@"); else PHASES=("${ALL[@]}"); fi
for p in "${PHASES[@]}"; do
    printf '%s\n' "${ALL[@]}" | grep -qx -- "$p" || { echo "board/ci.sh: unknown phase '$p' (phases: ${ALL[*]})" >&2; exit 2; }
done

T0=$(date +%s)
SUMMARY=()
FAILED=0
for p in "${PHASES[@]}"; do
    say "$p"
    t=$(date +%s)
    if "phase_$p"; then r=ok; else r=FAIL; FAILED=1; fi
    SUMMARY+=("$(printf '%-10s %-4s %4ss' "$p" "$r" "$(( $(date +%s) - t ))")")
done
say "summary"
printf '  %s\n' "${SUMMARY[@]}"
note "total $(( $(date +%s) - T0 ))s"
if [ "$FAILED" = 0 ]; then note "PASS"; else note "FAILED"; fi
exit "$FAILED"
