#!/usr/bin/env bash
# Benchmark (issue 15): read and judge a full certified-conformance JUnit (~6,700 testcases,
# ~2 MB) and a 10 MB e2e.log, with the artifact copy, as `-a conformance_results=DIR` does.
# Target: <= 100 ms and <= 30 MiB extra peak RSS.
#
#   bench/conformance-judge.sh [RUNS] [DIR]     (DIR with junit_01.xml and e2e.log; default:
#                                                a generated run of that size)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
uptime
cargo run --release -q -p scs-kaas-checks --example conformance_bench -- "${1:-10}" ${2:+"$2"}
