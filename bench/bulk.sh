#!/usr/bin/env bash
# bulk.sh — manifix bulk over many small repositories, against a shell loop running sed over
# the same YAML files (the naive fleet-wide rewrite).
#
# Usage: bench/bulk.sh                          # 200 repositories
#        COUNT=50 RUNS=3 MANIFIX=/path/to/manifix JOBS=2 bench/bulk.sh
# Prints one table (stdout); progress and warnings go to stderr. See bench/README.md.
#
# `manifix bulk --recipe NAME|FILE --repos LIST|DIR [--jobs N] [--dry-run | --branch NAME
# [--push REMOTE]] [--report FILE] [--shard K/N]` is measured with --dry-run. A binary without
# the bulk subcommand is reported as such, and the sed loop is still measured.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

COUNT=${COUNT:-200}
JOBS=${JOBS:-$(nproc)}
RECIPE=${RECIPE:-fix-placeholder-accounts}
# Extra flags for manifix bulk, e.g. BULK_ARGS="--set account=465002806239" (word-split).
BULK_ARGS=${BULK_ARGS:-}

# The repositories, generated once per (COUNT, SEED, gen.py version) and kept as they are:
# every measured run works on a fresh copy, so nothing a run does can leak into the next one.
REPOS_SRC="$GEN_CACHE/repos-$COUNT-seed$SEED"
WORK="$CACHE/bulk-copy.$$"
CLEANUP+=("$WORK")

fresh_copy() {
    rm -rf "$WORK"
    cp -a "$REPOS_SRC" "$WORK"
    sync # write the copy back now, not during the timed run
}

has_bulk() {
    # clap answers `manifix bulk --help` with status 0 only when the subcommand exists.
    "$MANIFIX" bulk --help >/dev/null 2>&1
}

# The naive version: every YAML file of every listed repository through sed -i, one find per
# repository, as a quick fleet-wide script would do it. Run by GNU time as its own bash.
# shellcheck disable=SC2016 # $repo is expanded by that inner bash, not here
SED_LOOP='
while IFS= read -r repo; do
    find "$repo" -name .git -prune -o -type f \( -name "*.yaml" -o -name "*.yml" \) \
        -exec sed -i "s/123456789012/465002806239/g" {} +
done < repos.txt'

ROWS=()
add_row() {
    local tool=$1 files=$2
    local per_s="-" files_s="-" peak="-"
    if [[ $SECS != "-" ]]; then
        per_s=$(awk -v n="$COUNT" -v s="$SECS" 'BEGIN { printf "%.1f", (s > 0 ? n / s : 0) }')
        files_s=$(awk -v n="$files" -v s="$SECS" 'BEGIN { printf "%.0f", (s > 0 ? n / s : 0) }')
        peak=$(kb_to_mb "$PEAK_KB")
    fi
    ROWS+=("$(printf '%s\t%s\t%s\t%s\t%s\t%s\t%s' "$tool" "$SECS" "$per_s" "$files_s" "$peak" "$CPU_PCT" "${NOTE:--}")")
    log "  $tool: ${SECS}s${NOTE:+, $NOTE}"
}

main() {
    command -v python3 >/dev/null || die "python3 is needed to generate the repositories"
    command -v git >/dev/null || die "git is needed to generate the repositories"
    [[ -x /usr/bin/time ]] || die "GNU time is needed at /usr/bin/time (apt-get install -y time)"
    manifix_binary
    note_load
    mkdir -p "$GEN_CACHE"

    if [[ ! -f $REPOS_SRC.done ]]; then
        rm -rf "$REPOS_SRC" "$REPOS_SRC.tmp"
        log "generating $COUNT repositories ..."
        python3 "$BENCH_DIR/gen.py" repos "$REPOS_SRC.tmp" --count "$COUNT" --seed "$SEED" >&2
        mv "$REPOS_SRC.tmp" "$REPOS_SRC"
        touch "$REPOS_SRC.done"
    else
        log "using cached $REPOS_SRC"
    fi
    local bytes files
    bytes=$(input_bytes "$REPOS_SRC")
    files=$(find "$REPOS_SRC" -name .git -prune -o -type f \( -name '*.yaml' -o -name '*.yml' \) -print | wc -l)
    warm_cache "$REPOS_SRC"

    local bulk_status="measured" bulk_extra=()
    read -r -a bulk_extra <<<"$BULK_ARGS"
    if has_bulk; then
        # Run from inside the copy with the list's own relative paths, so the result does not
        # depend on whether bulk resolves them against the list file or the working directory.
        # shellcheck disable=SC2016 # "$1" and "$@" belong to the inner bash
        MEASURE_PREPARE=fresh_copy measure "0 1" /dev/null \
            bash -c 'cd "$1" && shift && exec "$@"' _ "$WORK" \
            "$MANIFIX" bulk --recipe "$RECIPE" --repos repos.txt --dry-run --jobs "$JOBS" "${bulk_extra[@]}"
        # A dry run must leave every repository exactly as it was (checked on the last run's copy).
        if ! check_untouched; then
            NOTE="${NOTE:+$NOTE, }dry run changed repositories"
        fi
        add_row "manifix bulk --dry-run --jobs $JOBS" "$files"
    else
        bulk_status="NOT MEASURED: $MANIFIX has no 'bulk' subcommand (manifix bulk --help fails)"
        log "$bulk_status"
        SECS="-" PEAK_KB=0 CPU_PCT="-" NOTE="no bulk subcommand"
        add_row "manifix bulk --dry-run --jobs $JOBS" "$files"
    fi

    MEASURE_PREPARE=fresh_copy measure "0" /dev/null bash -c "cd \"\$1\" && $SED_LOOP" _ "$WORK"
    add_row "sed -i loop (one find per repo)" "$files"
    # The loop must actually have done the job: no placeholder left in any YAML file.
    if grep -rl --include='*.yaml' 123456789012 "$WORK" >/dev/null; then
        log "warning: the sed loop left placeholders behind"
    fi

    echo
    echo "manifix bulk benchmark (bulk.sh), $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "machine: $(nproc) CPUs available, --jobs $JOBS; before the run: $LOAD_AT_START"
    echo "manifix: $MANIFIX_DESC"
    echo "input: $COUNT git repositories, $files YAML files, $(awk -v b="$bytes" 'BEGIN { printf "%.1f", b / 1e6 }') MB (gen.py $GEN_VERSION, seed $SEED), recipe $RECIPE; best of $RUNS run(s)"
    echo "manifix bulk: $bulk_status${BULK_ARGS:+ (extra flags: $BULK_ARGS)}"
    echo
    {
        printf 'tool\tseconds\trepos/s\tfiles/s\tpeak MB\tCPU%%\tnote\n'
        printf '%s\n' "${ROWS[@]}"
    } | column -t -s $'\t'
}

# True when no repository of the copy has changes or branches beyond the generated `main`.
check_untouched() {
    local repo ok=0
    while IFS= read -r repo; do
        if [[ -n $(GIT_OPTIONAL_LOCKS=0 git -C "$WORK/$repo" status --porcelain) ]] \
            || [[ $(git -C "$WORK/$repo" for-each-ref --format='%(refname)' refs/heads | wc -l) -ne 1 ]]; then
            log "warning: bulk --dry-run changed $repo"
            ok=1
        fi
    done <"$WORK/repos.txt"
    return "$ok"
}

main "$@"
