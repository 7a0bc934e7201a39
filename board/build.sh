#!/usr/bin/env bash
# board/build.sh - static, stripped release builds of keepvip for router CPUs.
#
# Usage: board/build.sh TARGET|all [--profile NAME] [--no-run]
#        board/build.sh --list                  targets and profiles
#
#   TARGET   mips-unknown-linux-musl (ath79, big-endian 24Kc, soft-float)
#            mipsel-unknown-linux-musl (ramips, soft-float)
#            armv7-unknown-linux-musleabihf, aarch64-unknown-linux-musl,
#            x86_64-unknown-linux-musl, or "all" for these five.
#   --profile NAME   board profile board/profiles/NAME.env (default: "default"). A profile is a
#            list of VAR=value lines: KEEPVIP_<LIMIT>=N capacity limits read by build.rs and
#            CROSS_STD_FEATURES for std (see board/README.md).
#   --no-run skip the qemu smoke run (`keepvip -v`).
#
# Output: target/board/<target>/keepvip for the default profile,
#         target/board/<profile>/<target>/keepvip for any other profile
#         (override the base with KEEPVIP_BOARD_OUT). Each binary is checked with `file`
#         (ELF of the right machine and byte order, statically linked, stripped) and run under
#         qemu-user with -v.
#
# The cross toolchain comes from ../shared/cross/cross-build.sh (Debian rustc-web, -Zbuild-std,
# musl from source, qemu-user); it is set up on first use and cached in /opt/rust-cross.
# Where it is looked for: $KEEPVIP_CROSS_DIR, else <repo>/../shared/cross, else
# <main checkout>/../shared/cross (for git worktrees), else <origin>/../shared/cross (a clone).
# Cargo build dirs: ${CARGO_TARGET_DIR:-<repo>/target}/board-<profile> (one per profile, so
# switching profiles does not rebuild std every time).
set -euo pipefail

BOARD_TARGETS=(mips-unknown-linux-musl mipsel-unknown-linux-musl armv7-unknown-linux-musleabihf
               aarch64-unknown-linux-musl x86_64-unknown-linux-musl)

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

log() { printf '[board] %s\n' "$*" >&2; }
die() { printf '[board] ERROR: %s\n' "$*" >&2; exit 1; }

# shellcheck source-path=SCRIPTDIR source=cross-dir.sh
. "$REPO/board/cross-dir.sh"
find_cross() {
    cross_dir "$REPO" || die "cross toolchain scripts not found: set KEEPVIP_CROSS_DIR (expected <repo>/../shared/cross/cross-build.sh)"
}

# expected `file` words for each target: machine and byte order
file_expect() {
    case "$1" in
        mips-unknown-linux-musl)        echo "MSB|MIPS" ;;
        mipsel-unknown-linux-musl)      echo "LSB|MIPS" ;;
        armv7-unknown-linux-musleabihf) echo "LSB|ARM" ;;
        aarch64-unknown-linux-musl)     echo "LSB|aarch64" ;;
        x86_64-unknown-linux-musl)      echo "LSB|x86-64" ;;
        *) return 1 ;;
    esac
}

# check_binary TARGET FILE: static, stripped, right machine. Prints `file`'s description.
check_binary() {
    local t=$1 f=$2 desc want w
    desc=$(file -b "$f")
    want=$(file_expect "$t") || die "no file(1) expectation for $t"
    for w in ELF ${want//|/ }; do
        case "$desc" in *"$w"*) ;; *) die "$f: file(1) says '$desc', expected '$w' for $t" ;; esac
    done
    case "$desc" in
        *"statically linked"*|*"static-pie linked"*) ;;
        *) die "$f is not statically linked: $desc" ;;
    esac
    case "$desc" in *"interpreter"*) die "$f has a program interpreter: $desc" ;; esac
    case "$desc" in
        *"not stripped"*) die "$f is not stripped: $desc" ;;
        *", stripped"*) ;;
        *) die "$f: cannot tell whether it is stripped: $desc" ;;
    esac
    printf '%s\n' "$desc"
}

list() {
    echo "targets:"; printf '  %s\n' "${BOARD_TARGETS[@]}"
    echo "profiles:"
    local p
    for p in "$REPO"/board/profiles/*.env; do printf '  %s\n' "$(basename "$p" .env)"; done
}

# ---------------------------------------------------------------- arguments
TARGET=""; PROFILE=default; RUN=1
while [ $# -gt 0 ]; do
    case "$1" in
        --profile) [ $# -ge 2 ] || die "--profile needs a name"; PROFILE=$2; shift 2 ;;
        --profile=*) PROFILE=${1#--profile=}; shift ;;
        --no-run) RUN=0; shift ;;
        --list) list; exit 0 ;;
        -h|--help) sed -n '2,30p' "$0"; exit 0 ;;
        -*) die "unknown option $1 (see --help)" ;;
        *) [ -z "$TARGET" ] || die "one TARGET only (or 'all')"; TARGET=$1; shift ;;
    esac
done
[ -n "$TARGET" ] || die "usage: board/build.sh TARGET|all [--profile NAME] [--no-run]"
if [ "$TARGET" = all ]; then TARGETS=("${BOARD_TARGETS[@]}"); else
    printf '%s\n' "${BOARD_TARGETS[@]}" | grep -qx -- "$TARGET" ||
        die "unsupported target '$TARGET' (board targets: ${BOARD_TARGETS[*]})"
    TARGETS=("$TARGET")
fi
case "$PROFILE" in *[!A-Za-z0-9_-]*|"") die "bad profile name '$PROFILE'" ;; esac
PROFILE_FILE=$REPO/board/profiles/$PROFILE.env
[ -f "$PROFILE_FILE" ] || die "no profile $PROFILE_FILE (see board/build.sh --list)"

CROSS=$(find_cross)
command -v file >/dev/null 2>&1 || die "file(1) is missing (apt-get install file)"

# ---------------------------------------------------------------- profile
# The profile is authoritative: drop capacity/std settings inherited from the caller's
# environment so that the same profile always gives the same binary.
for v in $(env | sed -n 's/^\(KEEPVIP_MAX_[A-Z0-9_]*\)=.*/\1/p'); do unset "$v"; done
unset CROSS_STD_FEATURES BOARD_RUSTFLAGS BOARD_MAX_PAGE_SIZE BOARD_CARGO_ARGS BOARD_STATIC_RELOC
set -a
# shellcheck source=/dev/null
. "$PROFILE_FILE"
set +a
log "profile $PROFILE: $(env | grep -E '^(KEEPVIP_MAX_[A-Z0-9_]*|CROSS_STD_FEATURES|BOARD_RUSTFLAGS|BOARD_MAX_PAGE_SIZE|BOARD_CARGO_ARGS|BOARD_STATIC_RELOC)=' | sort | tr '\n' ' ')"
# The caller's RUSTFLAGS come after the profile's (cross-build.sh appends +crt-static).
CALLER_RUSTFLAGS=${RUSTFLAGS:-}

# rustflags_for TARGET: the profile's BOARD_RUSTFLAGS, plus the linker's max page size for the
# 32-bit router CPUs (their kernels use 4 KiB pages; binutils' MIPS default of 64 KiB pads the
# static binary's file by tens of KiB), plus the caller's RUSTFLAGS.
rustflags_for() {
    local rf=${BOARD_RUSTFLAGS:-}
    case "$1" in
        mips-*|mipsel-*|armv7-*)
            [ -n "${BOARD_MAX_PAGE_SIZE:-}" ] && rf="$rf -Clink-arg=-Wl,-z,max-page-size=$BOARD_MAX_PAGE_SIZE" ;;
    esac
    # BOARD_STATIC_RELOC=yes: these targets link a static, non-PIE executable, so the code
    # needs no position independence: direct calls and addresses instead of GOT loads
    # (about 40 KiB less on mips). x86_64 musl links static-pie and keeps PIC.
    case "$1" in
        mips-*|mipsel-*|armv7-*|aarch64-*)
            [ "${BOARD_STATIC_RELOC:-}" = yes ] && rf="$rf -Crelocation-model=static" ;;
    esac
    rf="$rf $CALLER_RUSTFLAGS"
    printf '%s' "${rf# }" | sed 's/ *$//'
}

BASE_TARGET_DIR=${CARGO_TARGET_DIR:-$REPO/target}
export CARGO_TARGET_DIR=$BASE_TARGET_DIR/board-$PROFILE
OUT_BASE=${KEEPVIP_BOARD_OUT:-$REPO/target/board}
[ "$PROFILE" = default ] || OUT_BASE=$OUT_BASE/$PROFILE

# ---------------------------------------------------------------- build
cd "$REPO"
for T in "${TARGETS[@]}"; do
    t0=$(date +%s)
    rf=$(rustflags_for "$T")
    if [ -n "$rf" ]; then export RUSTFLAGS="$rf"; else unset RUSTFLAGS; fi
    log "building $T (profile $PROFILE) with $CROSS/cross-build.sh, RUSTFLAGS='$rf'"
    # shellcheck disable=SC2086  # BOARD_CARGO_ARGS is a word list (e.g. --no-default-features)
    "$CROSS/cross-build.sh" "$T" build --release --locked --bin keepvip ${BOARD_CARGO_ARGS:-}
    src=$CARGO_TARGET_DIR/$T/release/keepvip
    [ -f "$src" ] || die "cargo produced no $src"
    mkdir -p "$OUT_BASE/$T"
    out=$OUT_BASE/$T/keepvip
    cp -f "$src" "$out.tmp" && mv -f "$out.tmp" "$out"
    desc=$(check_binary "$T" "$out")
    size=$(stat -c %s "$out")
    if [ "$RUN" = 1 ]; then
        if ! ver=$("$CROSS/cross-run.sh" "$T" "$out" -v 2>&1); then
            die "$out -v failed under qemu: $ver"
        fi
        case "$ver" in *keepvip*) ;; *) die "$out -v printed no version: $ver" ;; esac
        ver=$(printf '%s' "$ver" | head -n1)
    else
        ver="(not run)"
    fi
    log "$T: $out $size bytes, $(( $(date +%s) - t0 ))s"
    log "  file: $desc"
    log "  -v:   $ver"
done
