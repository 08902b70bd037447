# Start and stop a throw-away PostgreSQL cluster on loopback, for tests.
# Usage: source scripts/pg-throwaway.sh; pg_throwaway_start; ...; pg_throwaway_stop
# Exports SCS_KAAS_TEST_POSTGRES_URL, which the monitor's PostgreSQL tests read.

pg_throwaway_start() {
  local bindir
  bindir=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
  PG_THROWAWAY_DIR=$(mktemp -d /tmp/scs-kaas-pg.XXXXXX)
  PG_THROWAWAY_PORT=${PG_THROWAWAY_PORT:-55432}
  local as=()
  if [ "$(id -u)" = 0 ]; then
    chown postgres "$PG_THROWAWAY_DIR"
    as=(runuser -u postgres --)
  fi
  "${as[@]}" "$bindir/initdb" -D "$PG_THROWAWAY_DIR/data" -U postgres --auth=trust -E UTF8 >/dev/null
  "${as[@]}" "$bindir/pg_ctl" -D "$PG_THROWAWAY_DIR/data" -l "$PG_THROWAWAY_DIR/log" -w \
    -o "-c listen_addresses=127.0.0.1 -c port=$PG_THROWAWAY_PORT -c unix_socket_directories=$PG_THROWAWAY_DIR -c fsync=on -c max_connections=200" start >/dev/null
  export PG_THROWAWAY_DIR PG_THROWAWAY_PORT PG_THROWAWAY_BIN="$bindir"
  export SCS_KAAS_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:$PG_THROWAWAY_PORT/postgres"
  echo "ci: PostgreSQL running at $SCS_KAAS_TEST_POSTGRES_URL"
}

pg_throwaway_stop() {
  [ -n "${PG_THROWAWAY_DIR:-}" ] || return 0
  local as=()
  [ "$(id -u)" = 0 ] && as=(runuser -u postgres --)
  "${as[@]}" "$PG_THROWAWAY_BIN/pg_ctl" -D "$PG_THROWAWAY_DIR/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$PG_THROWAWAY_DIR"
}
