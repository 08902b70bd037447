#!/usr/bin/env bash
# Benchmark (issue 7): the whole network probe set against the simulator.
#
#   bench/network-checks.sh [RUNS] [SCENARIO]     (defaults: 3 runs, scenarios/compliant.yaml)
#
# Builds `scs-kaas` in release mode, serves the scenario as a separate `scs-kaas sim serve`
# process, then times one `scs-kaas check` process per run that runs loadbalancer-check,
# loadbalancer-local-policy-check and networkpolicy-enforcement-check concurrently (the
# scope's `heavy` section), with the default deadlines of real clusters: against the simulator
# the waiting is driven by watches. Target: <= 10 s wall per run.
set -euo pipefail

runs=${1:-3}
root=$(cd "$(dirname "$0")/.." && pwd)
scenario=${2:-$root/scenarios/compliant.yaml}
target=${CARGO_TARGET_DIR:-$root/target}
# SCS_KAAS_BIN: use this binary instead of building one (e.g. to try the script on a debug build).
bin=${SCS_KAAS_BIN:-$target/release/scs-kaas}

[ -n "${SCS_KAAS_BIN:-}" ] || (cd "$root" && cargo build --release -q -p scs-kaas)

work=$(mktemp -d)
sim_pid=
cleanup() {
    [ -n "$sim_pid" ] && kill "$sim_pid" 2>/dev/null && wait "$sim_pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

"$bin" sim serve --scenario "$scenario" --kubeconfig-out "$work/kubeconfig" \
    >"$work/sim.out" 2>"$work/sim.log" &
sim_pid=$!
for _ in $(seq 600); do
    [ -s "$work/kubeconfig" ] && break
    kill -0 "$sim_pid" 2>/dev/null || { echo "error: the simulator exited:" >&2; cat "$work/sim.log" >&2; exit 1; }
    sleep 0.1
done
[ -s "$work/kubeconfig" ] || { echo "error: the simulator did not come up within 60 s" >&2; exit 1; }

echo "scenario: $scenario; load average: $(cut -d' ' -f1-3 /proc/loadavg)"
worst=0
for run in $(seq "$runs"); do
    start=$(date +%s.%N)
    set +e
    "$bin" check --kubeconfig "$work/kubeconfig" --scope scs-kaas-extended --sections heavy \
        --output table >"$work/out.$run" 2>&1
    rc=$?
    set -e
    end=$(date +%s.%N)
    wall=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.2f", b - a }')
    echo "run $run: ${wall} s, check exit code $rc"
    [ "$rc" -le 1 ] || { cat "$work/out.$run" >&2; }
    worst=$(awk -v a="$worst" -v b="$wall" 'BEGIN { print (b > a ? b : a) }')
done
echo "slowest run: ${worst} s (target <= 10 s)"
awk -v w="$worst" 'BEGIN { ok = (w <= 10.0); print (ok ? "target met" : "TARGET MISSED"); exit !ok }'
