#!/bin/sh
# run.sh FUZZ-BUILD [SECONDS] - runs every libFuzzer target of FUZZ-BUILD
# (configured with -DMS_FUZZ=ON) for SECONDS (default 8) each, starting
# from the committed corpus fuzz/corpus/<target>. New inputs and crash
# artifacts go to FUZZ-BUILD/fuzz-work/<target>/, never into git.
# Prints one line per target; exits 1 when any target crashed, leaked,
# timed out or ran out of memory (its log is printed), 2 on usage errors.
set -u
build=${1:?usage: run.sh FUZZ-BUILD [SECONDS]}
secs=${2:-8}
here=$(cd "$(dirname "$0")" && pwd)
# The target list is fuzz/targets.cmake's (one place to add a target).
targets=$(sed -n '/^set(MS_FUZZ_TARGETS/,/)/p' "$here/targets.cmake" |
    sed 's/set(MS_FUZZ_TARGETS//; s/)//' | tr -s ' \n' ' ')
status=0

if [ ! -d "$build/fuzz" ]; then
    echo "run.sh: $build has no fuzz targets (configure with -DMS_FUZZ=ON)" >&2
    exit 2
fi
work=$(cd "$build" && pwd)/fuzz-work
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}"
export LSAN_OPTIONS="${LSAN_OPTIONS:-suppressions=$here/../tests/lsan.supp}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

for t in $targets; do
    bin=$build/fuzz/fuzz-$t
    dir=$work/$t
    if [ ! -x "$bin" ]; then
        echo "fuzz $t: FAIL (no $bin)"
        status=1
        continue
    fi
    mkdir -p "$dir/new"
    rm -f "$dir"/crash-* "$dir"/leak-* "$dir"/timeout-* "$dir"/oom-*
    "$bin" -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 \
        -print_final_stats=1 -artifact_prefix="$dir/" \
        "$dir/new" "$here/corpus/$t" >"$dir/log" 2>&1
    rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/log")
    cov=$(sed -n 's/^#[0-9]*[[:space:]]*DONE[[:space:]]*cov: \([0-9]*\).*/\1/p' "$dir/log")
    new=$(find "$dir/new" -type f | wc -l)
    if [ "$rc" -eq 0 ]; then
        echo "fuzz $t: ok, ${execs:-?} runs in ${secs}s, cov ${cov:-?}," \
            "$new inputs kept in $dir/new"
    else
        status=1
        echo "fuzz $t: FAIL (exit $rc), artifacts:" \
            "$(ls "$dir" | grep -E '^(crash|leak|timeout|oom)-' | tr '\n' ' ')"
        tail -n 60 "$dir/log"
    fi
done
exit $status
