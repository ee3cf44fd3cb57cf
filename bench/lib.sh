# Shared helpers for large.sh and bulk.sh. Sourced, not run.
# shellcheck shell=bash
# The globals set here (MANIFIX_DESC, PEAK_KB, ...) are read by the scripts sourcing this file.
# shellcheck disable=SC2034

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$BENCH_DIR/.." && pwd)
# Where generated inputs are cached between runs. Each generator version (hash of gen.py) gets
# its own subdirectory, so editing gen.py never silently benchmarks stale files.
CACHE=${CACHE:-/tmp/manifix-bench}
SEED=${SEED:-1}
GEN_VERSION=$(sha256sum "$BENCH_DIR/gen.py" | cut -c1-10)
GEN_CACHE="$CACHE/gen-$GEN_VERSION"
# Each measurement is repeated RUNS times; the fastest run is kept (less noise from the
# machine, same peak memory in practice).
RUNS=${RUNS:-1}

log() { printf '%s\n' "$*" >&2; }
die() { log "error: $*"; exit 2; }

# Sets MANIFIX to the binary under test: $MANIFIX when given, otherwise a release build of this
# checkout in a target directory of its own (so it never blocks a `cargo build` in target/).
manifix_binary() {
    if [[ -n ${MANIFIX:-} ]]; then
        [[ -x $MANIFIX ]] || die "MANIFIX=$MANIFIX is not an executable"
    else
        local target=${CARGO_TARGET_DIR:-/work/target-bench}
        log "building manifix (release) from $REPO_DIR into $target ..."
        if ! CARGO_TARGET_DIR=$target cargo build --release --quiet \
            --manifest-path "$REPO_DIR/Cargo.toml" >&2; then
            die "cargo build failed; fix the build or point MANIFIX=/path/to/manifix at a binary"
        fi
        MANIFIX=$target/release/manifix
    fi
    # Say exactly what is measured: version and the commit of the checkout (dirty or not), or,
    # for a binary built elsewhere, what MANIFIX_LABEL says it was built from.
    if [[ -n ${MANIFIX_LABEL:-} ]]; then
        MANIFIX_DESC="$("$MANIFIX" --version 2>/dev/null || echo manifix), $MANIFIX; $MANIFIX_LABEL"
        return 0
    fi
    # GIT_OPTIONAL_LOCKS=0 keeps `git status` from refreshing (writing) the index.
    local commit dirty=""
    commit=$(git -C "$REPO_DIR" rev-parse --short HEAD 2>/dev/null || echo unknown)
    if [[ -n $(GIT_OPTIONAL_LOCKS=0 git -C "$REPO_DIR" status --porcelain --untracked-files=no 2>/dev/null) ]]; then
        dirty=" (working tree has uncommitted changes)"
    fi
    MANIFIX_DESC="$("$MANIFIX" --version 2>/dev/null || echo manifix), $MANIFIX; checkout $commit$dirty"
}

# rg is the "read every byte once" reference. Installs it from Debian when we are root.
ensure_rg() {
    command -v rg >/dev/null && return 0
    if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
        log "ripgrep not found: installing it with apt-get ..."
        apt-get install -y -qq ripgrep >/dev/null 2>&1 \
            || { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq ripgrep >/dev/null 2>&1; } \
            || die "could not install ripgrep; install it (apt-get install -y ripgrep) and rerun"
    else
        die "ripgrep (rg) is needed: sudo apt-get install -y ripgrep"
    fi
}

# Other work on the machine skews every number. The load average would still show our own
# cargo build, so this samples how busy the CPUs are right now, over one second.
note_load() {
    local a b
    a=$(awk '/^cpu / { print $2 + $3 + $4 + $7 + $8, $5 + $6 }' /proc/stat)
    sleep 1
    b=$(awk '/^cpu / { print $2 + $3 + $4 + $7 + $8, $5 + $6 }' /proc/stat)
    BUSY_AT_START=$(awk -v a="$a" -v b="$b" 'BEGIN {
        split(a, x, " "); split(b, y, " "); busy = y[1] - x[1]; idle = y[2] - x[2]
        printf "%.0f", (busy + idle > 0 ? 100 * busy / (busy + idle) : 0) }')
    LOAD_AT_START="CPUs ${BUSY_AT_START}% busy with other work, load average $(cut -d' ' -f1-3 /proc/loadavg)"
    if ((BUSY_AT_START > 10)); then
        log "warning: the machine is busy ($LOAD_AT_START): the numbers will be pessimistic"
    fi
}

# Total size in bytes of the regular files under a directory, .git excluded.
input_bytes() {
    find "$1" -name .git -prune -o -type f -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }'
}

# Reads every file once so that the first tool measured does not pay for a cold page cache
# while the others get a warm one.
warm_cache() {
    find "$1" -name .git -prune -o -type f -exec cat {} + >/dev/null
}

# measure OK_CODES STDOUT CMD...
#   Runs CMD under GNU time, RUNS times, stdout to STDOUT and stderr to $LAST_STDERR.
#   OK_CODES is a space-separated list of exit codes that mean "ran fine" (manifix exits 1
#   when it finds something; rg when it finds nothing). Sets, for the fastest run:
#     SECS  wall seconds (from bash's EPOCHREALTIME: millisecond resolution, where %e of
#           GNU time has only 10 ms, too coarse for rg on 1k files)
#     PEAK_KB  maximum resident set size (%M), CPU_PCT  CPU use (%P; 200% = two cores busy)
#     RC  exit code, NOTE  empty, or "exit N" when the code was not in OK_CODES.
#   When MEASURE_PREPARE names a function, it is called before every run, outside the timing
#   (to give a command that rewrites files a fresh copy each time).
LAST_STDERR=$(mktemp)
TIME_OUT=$(mktemp)
# Scripts add their scratch copies here; everything listed is removed on exit, even on error.
CLEANUP=("$LAST_STDERR" "$TIME_OUT")
trap 'rm -rf "${CLEANUP[@]}"' EXIT

measure() {
    local ok_codes=$1 out=$2
    shift 2
    local run best="" t0 t1 secs rc line
    for ((run = 1; run <= RUNS; run++)); do
        if [[ -n ${MEASURE_PREPARE:-} ]]; then
            "$MEASURE_PREPARE"
        fi
        rc=0
        t0=$EPOCHREALTIME
        # `|| rc=$?`: a non-zero exit is data here, not a reason for `set -e` to stop us.
        /usr/bin/time -f '%e %M %P' -o "$TIME_OUT" "$@" >"$out" 2>"$LAST_STDERR" || rc=$?
        t1=$EPOCHREALTIME
        secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
        # GNU time writes "Command exited with non-zero status N" before the format line.
        line=$(tail -n 1 "$TIME_OUT")
        if [[ -z $best ]] || awk -v a="$secs" -v b="$SECS" 'BEGIN { exit !(a < b) }'; then
            best=1
            SECS=$secs
            PEAK_KB=$(awk '{ print $2 }' <<<"$line")
            CPU_PCT=$(awk '{ print $3 }' <<<"$line")
            RC=$rc
        fi
    done
    NOTE=""
    if [[ " $ok_codes " != *" $RC "* ]]; then
        NOTE="exit $RC"
        log "warning: '$*' exited with $RC; its stderr ends with:"
        tail -n 5 "$LAST_STDERR" | sed 's/^/    /' >&2
    fi
}

# Megabytes (10^6 bytes) per second, and KB → MB, for the tables.
mb_per_s() { awk -v b="$1" -v s="$2" 'BEGIN { if (s > 0) printf "%.1f", b / 1e6 / s; else print "-" }'; }
kb_to_mb() { awk -v k="$1" 'BEGIN { printf "%.0f", k * 1024 / 1e6 }'; }
