#!/bin/sh
# extract-example.sh [CONF] - print the packaged keepvip.conf with its commented-out example
# (between "# --- example begin ---" and "# --- example end ---") uncommented, so tests can
# check the example with keepvip -t.
set -eu
conf=${1:-$(dirname "$0")/../openwrt/files/keepvip.conf}
sed -e '/^# --- example begin ---$/,/^# --- example end ---$/{/^# --- example/d; s/^# \{0,1\}//;}' "$conf"
