#!/usr/bin/env bash
# board/tests/test_openwrt_makefile.sh - parse board/openwrt/Makefile with GNU make against a
# stub OpenWrt SDK (rules.mk, package.mk, rust-package.mk stand-ins written below) and check
# what the real SDK would get from it: package metadata, the cargo environment with the
# board profile's capacity limits, and the install recipe (run into a fake root).
# This is no substitute for a build in a real SDK (none is available here).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
PKG=$REPO/board/openwrt

PASS=0; FAIL=0
ok()   { PASS=$((PASS + 1)); printf 'ok   %s\n' "$*"; }
fail() { FAIL=$((FAIL + 1)); printf 'FAIL %s\n' "$*"; }
expect() {  # expect NAME HAYSTACK NEEDLE
    case "$2" in *"$3"*) ok "$1" ;; *) fail "$1: '$3' not in: $2" ;; esac
}

command -v make >/dev/null 2>&1 || DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 -q install -y --no-install-recommends make >/dev/null

SDK=$(mktemp -d /tmp/kvb-sdk.XXXXXX)
trap 'rm -rf "$SDK"' EXIT
mkdir -p "$SDK/include" "$SDK/feeds/packages/lang/rust" "$SDK/pkg-install/bin" "$SDK/root"
printf '#!/bin/sh\necho fake keepvip\n' > "$SDK/pkg-install/bin/keepvip"; chmod +x "$SDK/pkg-install/bin/keepvip"
# a fake cargo on PATH: records its arguments (one per line) for the compile step
mkdir -p "$SDK/bin"
cat > "$SDK/bin/cargo" <<'CARGO'
#!/bin/sh
for a in "$@"; do printf '%s\n' "$a"; done > "$SDK_CARGO_LOG"
CARGO
chmod +x "$SDK/bin/cargo"
export SDK_CARGO_LOG=$SDK/cargo.args

# --- stand-ins, just enough of the SDK's interface for this Makefile
cat > "$SDK/rules.mk" <<'MK'
qstrip=$(strip $(subst ",,$(1)))
INSTALL_DIR:=install -d -m0755
INSTALL_BIN:=install -m0755
INSTALL_CONF:=install -m0600
INSTALL_DATA:=install -m0644
CP:=cp -fpR
MK
cat > "$SDK/include/package.mk" <<'MK'
PKG_BUILD_DIR:=$(SDK_TMP)/build
PKG_INSTALL_DIR:=$(SDK_TMP)/pkg-install
define BuildPackage
stub-info:
	@echo 'NAME=$(PKG_NAME)'
	@echo 'BUILD_DEPENDS=$(PKG_BUILD_DEPENDS)'
	@echo 'DEPENDS=$(strip $(call qstrip,$(Package/$(1)/DEPENDS)))'
	@echo 'CARGO_PKG_VARS=$(strip $(CARGO_PKG_VARS))'
	@echo 'CONFFILES=$(strip $(Package/$(1)/conffiles))'
stub-prepare:
	$(Build/Prepare)
stub-install:
	$(call Package/$(1)/install,$(SDK_TMP)/root)
stub-compile:
	$(Build/Compile)
endef
# Package/<name> sets DEPENDS through define; expose it for stub-info
Package/keepvip/DEPENDS=$(filter-out SECTION:=% CATEGORY:=% SUBMENU:=% TITLE:=%,$(subst DEPENDS:=,,$(Package/keepvip)))
MK
# Build/Compile/Cargo with the feed's interface: $(1) a path in the build dir, $(2) extra cargo
# arguments, RUST_PKG_FEATURES for --features; Build/Compile calls it without arguments
cat > "$SDK/feeds/packages/lang/rust/rust-package.mk" <<'MK'
RUST_ARCH_DEPENDS:=@(aarch64||arm||mips||mipsel||x86_64)
CARGO_PKG_VARS=CC=hostcc
define Build/Compile/Cargo
	+$(CARGO_PKG_VARS) cargo install -v $(if $(strip $(RUST_PKG_FEATURES)),--features "$(strip $(RUST_PKG_FEATURES))") --root $(PKG_INSTALL_DIR) --path "$(PKG_BUILD_DIR)/$(strip $(1))" --offline --locked $(2)
endef
define RustBinPackage
endef
Build/Compile=$(call Build/Compile/Cargo)
MK

run_make() { PATH=$SDK/bin:$PATH make --no-print-directory -C "$PKG" TOPDIR="$SDK" INCLUDE_DIR="$SDK/include" SDK_TMP="$SDK" KEEPVIP_SRC="$REPO" "$@"; }

# compile_args PROFILE: the arguments `cargo install` gets for board profile PROFILE
compile_args() {
    rm -f "$SDK_CARGO_LOG"
    if [ "$1" = default ]; then run_make stub-compile >/dev/null
    else run_make stub-compile CONFIG_KEEPVIP_PROFILE="\"$1\"" >/dev/null; fi
    cat "$SDK_CARGO_LOG" 2>/dev/null
}

info=$(run_make stub-info)
expect "PKG_NAME" "$info" "NAME=keepvip"
expect "PKG_BUILD_DEPENDS rust/host" "$info" "BUILD_DEPENDS=rust/host"
expect "DEPENDS uses RUST_ARCH_DEPENDS" "$info" "@(aarch64||arm||mips||mipsel||x86_64)"
expect "conffile" "$info" "CONFFILES=/etc/keepvip/keepvip.conf"
expect "cargo vars keep the feed's" "$info" "CARGO_PKG_VARS=CC=hostcc"
case "$info" in *KEEPVIP_MAX_*) fail "default profile sets no limits, got: $info" ;; *) ok "default profile: no limit overrides" ;; esac

small=$(run_make stub-info CONFIG_KEEPVIP_PROFILE='"small"')
while read -r kv; do
    expect "small profile passes $kv to cargo" "$small" " $kv"
done < <(grep -E '^KEEPVIP_MAX_[A-Z0-9_]+=[0-9]+$' "$REPO/board/profiles/small.env")
case "$small" in *CROSS_STD_FEATURES*) fail "CROSS_STD_FEATURES leaked into cargo vars" ;; *) ok "CROSS_STD_FEATURES not passed to the SDK build" ;; esac

# the profile's cargo features reach `cargo install`: no lvs/smtp unless the profile has them
for prof in default small lvs full; do
    args=$(compile_args "$prof")
    case "$args" in *install*) ;; *) fail "$prof profile: cargo install not run (args: $args)"; continue ;; esac
    want=$(sed -n 's/^BOARD_CARGO_ARGS=//p' "$REPO/board/profiles/$prof.env")
    if [ -n "$want" ]; then
        if printf '%s\n' "$args" | grep -qx -- "$want"; then ok "$prof profile: cargo install gets $want"
        else fail "$prof profile: cargo install lacks $want: ${args//$'\n'/ }"; fi
    elif printf '%s\n' "$args" | grep -q -- '--no-default-features'; then
        fail "$prof profile: --no-default-features passed, the profile has the default features (lvs, smtp)"
    else ok "$prof profile: cargo install keeps the default features (lvs, smtp)"; fi
done
# what the defaults mean: the default profile builds without the load-balancing side
case "$(compile_args default)" in *--no-default-features*) ok "default profile: no lvs feature" ;;
    *) fail "default profile: built with the lvs feature" ;; esac
case "$(compile_args lvs)" in *--no-default-features*) fail "lvs profile: lvs feature left out" ;;
    *) ok "lvs profile: lvs feature built in" ;; esac

run_make stub-prepare >/dev/null
if [ -f "$SDK/build/Cargo.toml" ] && [ -f "$SDK/build/Cargo.lock" ] && [ -f "$SDK/build/build.rs" ] && [ -d "$SDK/build/src" ]; then
    ok "Build/Prepare copies the crate"; else fail "Build/Prepare copies the crate"; fi

run_make stub-install >/dev/null
for f in usr/sbin/keepvip etc/init.d/keepvip usr/libexec/keepvip/hotplug-notify; do
    if [ -x "$SDK/root/$f" ]; then ok "installs /$f (executable)"; else fail "installs /$f (executable)"; fi
done
if [ -f "$SDK/root/etc/keepvip/keepvip.conf" ] && [ "$(stat -c %a "$SDK/root/etc/keepvip/keepvip.conf")" = 600 ]; then
    ok "installs /etc/keepvip/keepvip.conf (0600)"; else fail "installs /etc/keepvip/keepvip.conf (0600)"; fi
rpc=$SDK/root/usr/libexec/keepalived/rpc/keepvip.sh
if [ -f "$rpc" ] && [ "$(stat -c %a "$rpc")" = 644 ] && cmp -s "$rpc" "$PKG/files/keepalived-rpc.sh"; then
    ok "installs the rpcd glue /usr/libexec/keepalived/rpc/keepvip.sh (0644)"; else fail "installs the rpcd glue /usr/libexec/keepalived/rpc/keepvip.sh (0644)"; fi
if [ ! -e "$SDK/root/usr/bin" ]; then ok "nothing in /usr/bin"; else fail "something went to /usr/bin"; fi

echo "test_openwrt_makefile: $PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
