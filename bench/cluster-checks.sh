#!/usr/bin/env bash
# Benchmark (issue 5): the read-only cluster checks on a generated large cluster.
#
#   bench/cluster-checks.sh [NODES] [PODS]        (defaults: 5000 nodes, 50000 pods)
#
# Builds `scs-kaas` in release mode, generates the scenario (`scs-kaas sim generate`), serves it
# as a separate `scs-kaas sim serve` process, then times ONE `scs-kaas check` process running
# registry-frozen-images-check, node-distribution-check and the read-only part of
# default-storage-class-check (`-a storage_probe=off`) with the read-only `viewer` credentials.
# Wall time and peak RSS are those of the checking process only (GNU time); API requests are
# counted from the simulator's request log. Targets: <= 3 s wall, <= 150 MiB peak RSS.
set -euo pipefail

nodes=${1:-5000}
pods=${2:-50000}
root=$(cd "$(dirname "$0")/.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
# SCS_KAAS_BIN: use this binary instead of building one (e.g. to try the script on a debug build).
bin=${SCS_KAAS_BIN:-$target/release/scs-kaas}
time_bin=/usr/bin/time
[ -x "$time_bin" ] || { echo "error: $time_bin (GNU time) is needed to measure peak RSS; install the 'time' package" >&2; exit 2; }

[ -n "${SCS_KAAS_BIN:-}" ] || (cd "$root" && cargo build --release -q -p scs-kaas)

work=$(mktemp -d)
sim_pid=
cleanup() {
    [ -n "$sim_pid" ] && kill "$sim_pid" 2>/dev/null && wait "$sim_pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

"$bin" sim generate --nodes "$nodes" --pods "$pods" --seed 1 -o "$work/scenario.yaml"
SCS_KAAS_LOG=scs_kaas_sim::server::api=debug "$bin" sim serve \
    --scenario "$work/scenario.yaml" --kubeconfig-out "$work/kubeconfig" --user viewer \
    >"$work/sim.out" 2>"$work/sim.log" &
sim_pid=$!
for _ in $(seq 1200); do
    [ -s "$work/kubeconfig" ] && break
    kill -0 "$sim_pid" 2>/dev/null || { echo "error: the simulator exited:" >&2; cat "$work/sim.log" >&2; exit 1; }
    sleep 0.1
done
[ -s "$work/kubeconfig" ] || { echo "error: the simulator did not come up within 120 s" >&2; exit 1; }

load=$(uptime)
before=$(grep -c -- ' -> ' "$work/sim.log" || true)
set +e
"$time_bin" -f '%e %M' -o "$work/time" "$bin" check --kubeconfig "$work/kubeconfig" \
    --scope scs-kaas-extended \
    --tests '(registry-frozen-images|node-distribution|default-storage-class)-check' \
    -a storage_probe=off --output json >"$work/result.json"
rc=$?
set -e
after=$(grep -c -- ' -> ' "$work/sim.log" || true)
read -r wall rss_kib < <(tail -n 1 "$work/time")
rss_mib=$((rss_kib / 1024))

echo "scenario: $nodes nodes, $pods pods (seed 1); check exit code $rc"
echo "load average before the check (uptime)${load##*load average}"
python3 - "$work/result.json" <<'EOF' 2>/dev/null || true
import json, sys
doc = json.load(open(sys.argv[1]))
def walk(x):
    if isinstance(x, dict):
        if "id" in x and "status" in x and isinstance(x.get("status"), str):
            print(f"  {x['id']}: {x['status']}")
            return
        for v in x.values():
            walk(v)
    elif isinstance(x, list):
        for v in x:
            walk(v)
walk(doc)
EOF
echo "API requests: $((after - before))"
echo "wall time:    ${wall} s (target <= 3 s)"
echo "peak RSS:     ${rss_mib} MiB (target <= 150 MiB)"
awk -v w="$wall" -v r="$rss_mib" 'BEGIN { ok = (w <= 3.0 && r <= 150); print (ok ? "targets met" : "TARGETS MISSED"); exit !ok }'
