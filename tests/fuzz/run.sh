#!/bin/sh
# Runs every fuzz target for a bounded time each (libFuzzer via cargo-fuzz).
#
#   tests/fuzz/run.sh [SECONDS]          default 60 s per target
#
# Environment:
#   FUZZ_TARGETS="vrrp_parse core"   run only these targets
#   FUZZ_CORPUS_OUT=DIR              keep the grown corpus in DIR/<target>
#                                    (default: a temporary directory, removed)
#   CARGO_TARGET_DIR                 build directory (default tests/fuzz/target)
#
# The checked-in seed corpus (tests/fuzz/corpus/<target>) is read, never
# written. Exits non-zero if a target crashes, panics, times out or fails to
# build; the crashing input is saved under tests/fuzz/artifacts/<target>/.
# Prints the number of executions per target and in total.
set -eu

SECONDS_PER_TARGET=${1:-60}
case $SECONDS_PER_TARGET in
'' | *[!0-9]*)
	echo "usage: $0 [SECONDS]" >&2
	exit 2
	;;
esac

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
FUZZ_DIR=tests/fuzz
TARGETS=${FUZZ_TARGETS:-"vrrp_parse netlink_parse config_parse core"}
cd "$ROOT"

if ! cargo fuzz --version >/dev/null 2>&1; then
	echo "cargo-fuzz is not installed: installing it (cargo install cargo-fuzz --locked)"
	cargo install cargo-fuzz --locked || {
		echo "cannot install cargo-fuzz" >&2
		exit 2
	}
fi
# libfuzzer-sys compiles libFuzzer (C++) with the cc crate.
if ! command -v "${CXX:-c++}" >/dev/null 2>&1 && ! command -v g++ >/dev/null 2>&1 &&
	! command -v clang++ >/dev/null 2>&1; then
	echo "no C++ compiler (libFuzzer is C++): apt-get install g++" >&2
	exit 2
fi
# libFuzzer instrumentation needs unstable rustc flags (-Cpasses=sancov-module,
# -Zsanitizer...). On a stable toolchain, allow them (see README.md).
if ! rustc --version | grep -q nightly; then
	export RUSTC_BOOTSTRAP=1
fi
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/$FUZZ_DIR/target}"

# No sanitizer: the fuzzed code is safe Rust (see README.md). Release build
# with debug assertions and overflow checks (cargo-fuzz's default).
FUZZ_FLAGS="--fuzz-dir $FUZZ_DIR --sanitizer none --debug-assertions"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/keepvip-fuzz.XXXXXX")
trap 'rm -rf "$WORK"' EXIT INT TERM

# shellcheck disable=SC2086 # FUZZ_FLAGS is a word list
cargo fuzz build $FUZZ_FLAGS

status=0
total=0
summary=""
for t in $TARGETS; do
	if [ -n "${FUZZ_CORPUS_OUT:-}" ]; then
		corpus=$FUZZ_CORPUS_OUT/$t
	else
		corpus=$WORK/corpus/$t
	fi
	mkdir -p "$corpus"
	log=$WORK/$t.log
	echo "== $t: ${SECONDS_PER_TARGET} s"
	# The first corpus directory receives new inputs; the seeds stay untouched.
	# shellcheck disable=SC2086
	if cargo fuzz run $FUZZ_FLAGS "$t" "$corpus" "$FUZZ_DIR/corpus/$t" -- \
		-max_total_time="$SECONDS_PER_TARGET" -timeout=10 -rss_limit_mb=2048 \
		-print_final_stats=1 >"$log" 2>&1; then
		result=ok
	else
		result=FAILED
		status=1
		echo "---- $t failed:" >&2
		grep -A 4 -E 'panicked at|ERROR: libFuzzer' "$log" | grep -v '^stack backtrace' | head -n 20 >&2 || true
		echo "---- end of its log:" >&2
		tail -n 12 "$log" >&2
		ls "$FUZZ_DIR/artifacts/$t/" >&2 2>/dev/null || true
	fi
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	execs=${execs:-0}
	cov=$(grep -Eo 'cov: [0-9]+' "$log" | tail -n 1 | sed 's/cov: //')
	total=$((total + execs))
	line=$(printf '%-14s %-6s %12s execs  %6s s  cov %s' "$t" "$result" "$execs" \
		"$SECONDS_PER_TARGET" "${cov:-?}")
	echo "$line"
	summary="$summary$line
"
done

echo "== summary"
printf '%s' "$summary"
echo "total: $total executions"
exit $status
