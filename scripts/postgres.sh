#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the tests, from the machine's binaries (Debian's
# postgresql package; installed with apt-get when missing and running as root).
#   source scripts/postgres.sh start   -> exports WEIR_TEST_POSTGRES (a server URL), sets WEIR_PG_DIR
#   bash scripts/postgres.sh stop DIR  -> stops that cluster and removes it
# initdb refuses to run as root, so as root the cluster belongs to a `weirpg` user (made here).
# Text is ordered bytewise (LOCALE C), as on SQLite; fsync is off (the cluster is thrown away).

weir_pg_bin() {
  local d
  for d in /usr/lib/postgresql/*/bin; do
    [ -x "$d/initdb" ] && echo "$d"
  done | sort -V | tail -1
}

weir_pg_as() {
  if [ "$(id -u)" = 0 ]; then runuser -u weirpg -- "$@"; else "$@"; fi
}

weir_pg_start() {
  local bin dir port
  bin="$(weir_pg_bin)"
  if [ -z "$bin" ]; then
    if [ "$(id -u)" = 0 ]; then
      apt-get update -qq && apt-get install -y -qq --no-install-recommends postgresql postgresql-client
      bin="$(weir_pg_bin)"
    fi
    [ -n "$bin" ] || { echo "PostgreSQL's binaries are missing: apt-get install postgresql" >&2; return 1; }
  fi
  command -v psql >/dev/null || { echo "psql is missing: apt-get install postgresql-client" >&2; return 1; }
  if [ "$(id -u)" = 0 ] && ! id weirpg >/dev/null 2>&1; then
    useradd --system --no-create-home --shell /usr/sbin/nologin weirpg
  fi
  dir="$(mktemp -d /tmp/weir-pg.XXXXXX)"
  [ "$(id -u)" = 0 ] && chown weirpg "$dir"
  port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
  weir_pg_as "$bin/initdb" -D "$dir/data" -U weir --auth=trust --locale=C --encoding=UTF8 >"$dir/initdb.log" 2>&1 \
    || { cat "$dir/initdb.log" >&2; return 1; }
  weir_pg_as "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-k $dir -c listen_addresses=127.0.0.1 -p $port -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=400" \
    start >/dev/null || { cat "$dir/server.log" >&2; return 1; }
  export WEIR_PG_DIR="$dir"
  export WEIR_TEST_POSTGRES="postgres://weir@127.0.0.1:$port/postgres"
  echo "== PostgreSQL $("$bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$port (cluster $dir)"
}

weir_pg_stop() {
  local dir="$1" bin
  bin="$(weir_pg_bin)"
  [ -n "$dir" ] && [ -d "$dir/data" ] || return 0
  weir_pg_as "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}

case "${1:-}" in
  start) weir_pg_start ;;
  stop) weir_pg_stop "${2:-${WEIR_PG_DIR:-}}" ;;
  *) echo "usage: source scripts/postgres.sh start | bash scripts/postgres.sh stop DIR" >&2 ;;
esac
