#!/usr/bin/env bash
# fuzz.sh: run every libFuzzer target of a fuzz build for a bounded time each.
# Usage: scripts/fuzz.sh BUILD_DIR [SECONDS_PER_TARGET]   (default: $FUZZ_SECONDS, else 60)
#
# Each target fuzz_<name> starts from its seeds in fuzz/corpus/<name>/ (read only) and keeps
# what it finds in BUILD_DIR/fuzz/corpus/<name>/, so a later run goes on from there. A failing
# input is saved under BUILD_DIR/fuzz/artifacts/ and the run fails with the command that
# replays it. The fuzzer's progress goes to BUILD_DIR/fuzz/<name>.log; one line per target is
# printed: executions, coverage and corpus size.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:?usage: fuzz.sh BUILD_DIR [SECONDS]}
secs=${2:-${FUZZ_SECONDS:-60}}
[[ "$secs" =~ ^[0-9]+$ && "$secs" -gt 0 ]] || { echo "fuzz: bad time '$secs'" >&2; exit 2; }

mapfile -t targets < <(find "$build/fuzz" -maxdepth 1 -type f -name 'fuzz_*' -perm -u+x | sort)
[[ ${#targets[@]} -gt 0 ]] || { echo "fuzz: no targets in $build/fuzz (cmake --preset fuzz)" >&2; exit 1; }

mkdir -p "$build/fuzz/artifacts"
failed=0
for bin in "${targets[@]}"; do
    name=${bin##*/fuzz_}
    seeds=fuzz/corpus/$name
    corpus=$build/fuzz/corpus/$name
    log=$build/fuzz/$name.log
    mkdir -p "$corpus"
    [[ -d "$seeds" ]] || { echo "fuzz: no seed corpus $seeds" >&2; exit 1; }
    rc=0
    # -timeout: one input taking this long is a hang; -rss_limit_mb bounds memory; the
    # process itself is also bounded, in case the fuzzer cannot stop by itself.
    timeout --signal=KILL $((secs + 120)) "$bin" -max_total_time="$secs" -timeout=10 \
        -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$build/fuzz/artifacts/$name-" \
        "$corpus" "$seeds" </dev/null >"$log" 2>&1 || rc=$?
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+' "$log" | tail -n 1 || true)
    if [[ $rc -eq 0 ]]; then
        printf 'fuzz: %-5s %ss, %s runs, %s\n' "$name" "$secs" "${runs:-?}" "${cov:-?}"
    else
        failed=$((failed + 1))
        echo "fuzz: $name FAILED (exit $rc); the end of $log:" >&2
        grep -v -E '^#[0-9]+ +(NEW|REDUCE|pulse)' "$log" | tail -n 40 >&2
        for a in "$build/fuzz/artifacts/$name"-*; do
            [[ -e "$a" ]] && echo "fuzz: replay with: $bin $a" >&2
        done
    fi
done
[[ $failed -eq 0 ]] || { echo "fuzz: $failed target(s) failed" >&2; exit 1; }
