# shellcheck shell=bash
# Sourced by board/build.sh and board/ci.sh: cross_dir REPO prints the directory of
# ../shared/cross (cross-build.sh), looked for in this order:
#   $KEEPVIP_CROSS_DIR; REPO/../shared/cross; beside the main checkout of a git worktree;
#   beside the repository this one was cloned from (a CI clone in /tmp).
# Returns 1 when none has cross-build.sh.
cross_dir() {
    local repo=$1 d common origin
    common=$(git -C "$repo" rev-parse --path-format=absolute --git-common-dir 2>/dev/null || true)
    origin=$(git -C "$repo" remote get-url origin 2>/dev/null || true)
    for d in "${KEEPVIP_CROSS_DIR:-}" "$repo/../shared/cross" \
        "${common:+$(dirname "$common")/../shared/cross}" \
        "${origin:+$origin/../shared/cross}"; do
        if [ -n "$d" ] && [ -x "$d/cross-build.sh" ]; then (cd "$d" && pwd); return 0; fi
    done
    return 1
}
