#!/usr/bin/env bash
# tests/run.sh - the whole keepvip test suite (README's second command). Run as root on Debian 12.
#
#   phase  what
#   deps   tests/deps.sh: apt packages (keepalived, tshark, ...) and a Rust toolchain if missing
#   router the router build's feature set (`--no-default-features`: no lvs, no smtp; what the
#          board profiles default/small ship): unit tests and the config/CLI tests
#   cargo  `cargo test`: unit + golden wire tests, config tests, scenario tests, the deterministic
#          simulator (>= 1,000 seeds), namespace tests of the sys layer and the daemon, and the
#          lab's end-to-end scenarios incl. interop with a real keepalived (tests/e2e.rs)
#   board  board/ci.sh: static musl builds for mips/mipsel/armv7/aarch64/x86_64, the full cargo
#          test suite on big-endian MIPS under qemu, size budget, `keepvip -t` of the mips binary
#          on every config/ file, OpenWrt init script and systemd unit checks
#   fuzz   tests/fuzz/run.sh: every fuzz target for a bounded time (KEEPVIP_FUZZ_SECONDS, default 20)
#
# Usage: tests/run.sh [PHASE...]   (default: all phases)
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

phases=("$@")
[ "${#phases[@]}" -gt 0 ] || phases=(deps router cargo board fuzz)

passed=0 failed=0 failed_names=()
run_phase() {
    local name=$1; shift
    echo
    echo "=== tests/run.sh: phase $name: $*"
    local t0=$SECONDS
    if "$@"; then
        passed=$((passed + 1)); echo "=== phase $name: ok ($((SECONDS - t0)) s)"
    else
        failed=$((failed + 1)); failed_names+=("$name"); echo "=== phase $name: FAILED ($((SECONDS - t0)) s)"
    fi
}

for p in "${phases[@]}"; do
    case "$p" in
        deps) run_phase deps bash tests/deps.sh ;;
        router) run_phase router cargo test --no-default-features --lib --test config_cli \
                    --test config_examples --test config_errors --test sync_group ;;
        cargo) run_phase cargo cargo test ;;
        board) run_phase board bash board/ci.sh ;;
        fuzz) if [ -x tests/fuzz/run.sh ]; then
                  run_phase fuzz bash tests/fuzz/run.sh "${KEEPVIP_FUZZ_SECONDS:-20}"
              else
                  echo "=== tests/run.sh: tests/fuzz/run.sh not present"; failed=$((failed + 1)); failed_names+=(fuzz)
              fi ;;
        *) echo "unknown phase $p" >&2; exit 2 ;;
    esac
done

echo
[ "$failed" -eq 0 ] || echo "failed phases: ${failed_names[*]}"
echo "suite: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
