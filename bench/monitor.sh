#!/usr/bin/env bash
# Monitor performance bench (release build): signed-report ingest with 16 concurrent clients,
# the table page with 200 subjects x 2 scopes after 100,000 stored reports, and the server's peak
# RSS; first on a SQLite file, then on a throw-away PostgreSQL cluster (scripts/pg-throwaway.sh)
# when PostgreSQL is installed. Extra arguments go to the load generator, e.g.
#   bench/monitor.sh --reports 20000 --table-requests 500
# (see crates/monitor/examples/monitor_bench.rs for what is measured).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}
cargo build --release -q -p scs-kaas-monitor --example monitor_bench
bin="$CARGO_TARGET_DIR/release/examples/monitor_bench"

echo "== SQLite"
"$bin" "$@"

if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  echo "== PostgreSQL"
  # shellcheck source=scripts/pg-throwaway.sh
  source scripts/pg-throwaway.sh
  export PG_THROWAWAY_PORT=${PG_THROWAWAY_PORT:-55499}
  pg_throwaway_start
  trap pg_throwaway_stop EXIT
  "$bin" --db "$SCS_KAAS_TEST_POSTGRES_URL" "$@"
else
  echo "== PostgreSQL: skipped (no /usr/lib/postgresql/*/bin/initdb; apt-get install postgresql)"
fi
