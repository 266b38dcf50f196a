#!/usr/bin/env bash
# Starts the real servers the integration tests run against, runs the command
# given as arguments with their addresses in the environment, and always stops
# the servers afterwards.
#
#   scripts/integration.sh go test -count=1 -tags integration -run Integration -p 1 ./pkg/...
#
# What it provides:
#   - nats-server v2.15.2 with JetStream, on a free port and its own store dir
#     (the machine's Debian nats-server on 4222 is older than the JetStream
#     features we rely on, and broker-restart tests need a binary we own);
#   - FerretDB v1.24.2 on the machine's PostgreSQL (127.0.0.1:5432, user
#     postgres, trust auth), in a fresh database per run (inframind_it_<pid>,
#     so that runs side by side on one machine do not drop each other's data),
#     dropped when the run ends; databases left by runs that were killed are
#     dropped at the next start;
#   - the machine's Redis on 127.0.0.1:6379 (checked, not started).
# It fails loudly when PostgreSQL or Redis is not reachable: an integration run
# that silently skipped its servers would prove nothing.
#
# Exported to the command:
#   IM_TEST_NATS_URL         nats://127.0.0.1:<port>
#   IM_TEST_NATS_SERVER_BIN  absolute path of the pinned nats-server binary
#   IM_TEST_MONGO_URI        mongodb://127.0.0.1:<port>/
#   IM_TEST_REDIS_URL        redis://127.0.0.1:6379/5
#   IM_TEST_POSTGRES_URL     postgres://postgres@127.0.0.1:5432/<FerretDB's database>
#                            (tests read pg_stat_user_tables to see how
#                            PostgreSQL served FerretDB's queries)
#
# Settings (environment, all optional):
#   IM_IT_CACHE_DIR    where pinned binaries and logs live (default .ci/cache)
#   IM_IT_PG_HOST/PORT/USER            PostgreSQL for FerretDB
#   IM_IT_PG_DATABASE  database for FerretDB (default inframind_it_<pid>)
#   IM_IT_REDIS_HOST/PORT/DB           Redis handed to the tests
set -euo pipefail

NATS_VERSION=v2.15.2
FERRETDB_VERSION=v1.24.2

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE_DIR=${IM_IT_CACHE_DIR:-$ROOT/.ci/cache}
BIN_DIR=$CACHE_DIR/bin
LOG_DIR=$CACHE_DIR/logs

PG_HOST=${IM_IT_PG_HOST:-127.0.0.1}
PG_PORT=${IM_IT_PG_PORT:-5432}
PG_USER=${IM_IT_PG_USER:-postgres}
PG_DB_PREFIX=inframind_it_
PG_DATABASE=${IM_IT_PG_DATABASE:-$PG_DB_PREFIX$$}
REDIS_HOST=${IM_IT_REDIS_HOST:-127.0.0.1}
REDIS_PORT=${IM_IT_REDIS_PORT:-6379}
REDIS_DB=${IM_IT_REDIS_DB:-5}

log() { printf 'integration: %s\n' "$*" >&2; }
die() {
	printf '\nintegration: FAILED: %s\n\n' "$*" >&2
	exit 1
}

if [ "$#" -eq 0 ]; then
	die "usage: $0 COMMAND [ARGS...] (the command runs with the servers started)"
fi

command -v go >/dev/null 2>&1 || die "go is not on PATH"
mkdir -p "$BIN_DIR" "$LOG_DIR"

# ---------------------------------------------------------------- binaries --

# install_nats puts nats-server at the pinned version into BIN_DIR unless it
# is already there.
install_nats() {
	local bin=$BIN_DIR/nats-server
	if [ -x "$bin" ] && "$bin" --version 2>/dev/null | grep "$NATS_VERSION\$" >/dev/null; then
		return
	fi
	log "installing nats-server $NATS_VERSION into $BIN_DIR"
	GOFLAGS= GOWORK=off GOBIN=$BIN_DIR go install "github.com/nats-io/nats-server/v2@$NATS_VERSION" ||
		die "could not install nats-server $NATS_VERSION"
}

# install_ferretdb puts ferretdb at the pinned version into BIN_DIR unless it
# is already there.
#
# `go install .../cmd/ferretdb@v1.24.2` builds a binary that panics at start:
# FerretDB's release builds write build/version/version.txt before compiling,
# and the module archive does not contain that file. So the module source (the
# same archive and go.sum that go install would use) is copied to a scratch
# directory, the version file is written, and the command is built there.
install_ferretdb() {
	local bin=$BIN_DIR/ferretdb
	if [ -x "$bin" ] && "$bin" --version 2>/dev/null | grep -x "version: $FERRETDB_VERSION" >/dev/null; then
		return
	fi
	log "building ferretdb $FERRETDB_VERSION into $BIN_DIR"
	local dir scratch
	dir=$(cd "$CACHE_DIR" && GOFLAGS= GOWORK=off go mod download -json "github.com/FerretDB/FerretDB@$FERRETDB_VERSION" |
		sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
	[ -n "$dir" ] && [ -d "$dir" ] || die "could not download the FerretDB $FERRETDB_VERSION module"
	scratch=$(mktemp -d)
	cp -R "$dir" "$scratch/src"
	chmod -R u+w "$scratch/src"
	printf '%s\n' "$FERRETDB_VERSION" >"$scratch/src/build/version/version.txt"
	if ! (cd "$scratch/src" && GOFLAGS=-mod=mod GOWORK=off GOTOOLCHAIN=local CGO_ENABLED=0 \
		go build -buildvcs=false -o "$bin" ./cmd/ferretdb); then
		rm -rf "$scratch"
		die "could not build ferretdb $FERRETDB_VERSION"
	fi
	rm -rf "$scratch"
	"$bin" --version | grep -x "version: $FERRETDB_VERSION" >/dev/null || die "built ferretdb does not report $FERRETDB_VERSION"
}

# ------------------------------------------------------------ reachability --

# tcp_open succeeds when something accepts connections on host:port.
tcp_open() {
	(exec 3<>"/dev/tcp/$1/$2") 2>/dev/null
}

check_postgres() {
	if command -v psql >/dev/null 2>&1; then
		psql -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -d postgres -w -tAc 'SELECT 1' >/dev/null 2>&1
	elif command -v pg_isready >/dev/null 2>&1; then
		pg_isready -q -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER"
	else
		tcp_open "$PG_HOST" "$PG_PORT"
	fi
}

check_redis() {
	if command -v redis-cli >/dev/null 2>&1; then
		[ "$(redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" ping 2>/dev/null)" = "PONG" ]
	else
		local reply
		reply=$(
			exec 3<>"/dev/tcp/$REDIS_HOST/$REDIS_PORT" || exit 1
			printf 'PING\r\n' >&3
			IFS= read -r -t 2 line <&3 && printf '%s' "$line"
		) 2>/dev/null || return 1
		[ "${reply%$'\r'}" = "+PONG" ]
	fi
}

# free_port sets FREE_PORT to a TCP port on 127.0.0.1 that nothing listens on and that
# this run has not handed out yet. A port can still be taken between the probe
# and the server's bind; start_server retries with a new port when that
# happens.
USED_PORTS=" "
free_port() {
	local port i
	for i in $(seq 1 200); do
		port=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
		case $USED_PORTS in *" $port "*) continue ;; esac
		if ! tcp_open 127.0.0.1 "$port"; then
			USED_PORTS="$USED_PORTS$port "
			FREE_PORT=$port
			return 0
		fi
	done
	die "found no free TCP port on 127.0.0.1"
}

# ----------------------------------------------------------------- servers --

WORK_DIR=$(mktemp -d "${TMPDIR:-/tmp}/inframind-it.XXXXXX")
NATS_PID=
FERRETDB_PID=
DB_CREATED=

stop_pid() {
	local pid=$1 i
	[ -n "$pid" ] || return 0
	kill -0 "$pid" 2>/dev/null || return 0
	kill -TERM "$pid" 2>/dev/null || true
	for i in $(seq 1 100); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		kill -KILL "$pid" 2>/dev/null || true
	fi
	wait "$pid" 2>/dev/null || true
}

cleanup() {
	local code=$?
	trap - EXIT INT TERM
	stop_pid "$FERRETDB_PID"
	stop_pid "$NATS_PID"
	if [ -n "$DB_CREATED" ]; then
		psql -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -d postgres -w -q \
			-c "DROP DATABASE IF EXISTS \"$PG_DATABASE\" WITH (FORCE)" >/dev/null 2>&1 || true
	fi
	rm -rf "$WORK_DIR"
	log "servers stopped"
	exit "$code"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# wait_ready waits until pid is alive and host:port accepts connections.
# Returns 1 if the process exited (for example because the port was taken)
# and 2 on timeout.
wait_ready() {
	local pid=$1 port=$2 i
	for i in $(seq 1 300); do
		kill -0 "$pid" 2>/dev/null || return 1
		if tcp_open 127.0.0.1 "$port"; then
			return 0
		fi
		sleep 0.1
	done
	return 2
}

start_nats() {
	local attempt port rc
	for attempt in 1 2 3; do
		free_port
		port=$FREE_PORT
		rm -rf "$WORK_DIR/nats"
		mkdir -p "$WORK_DIR/nats"
		"$BIN_DIR/nats-server" -js -sd "$WORK_DIR/nats" -a 127.0.0.1 -p "$port" \
			-l "$LOG_DIR/nats-server.log" &
		NATS_PID=$!
		rc=0
		wait_ready "$NATS_PID" "$port" || rc=$?
		if [ "$rc" -eq 0 ]; then
			NATS_PORT=$port
			return 0
		fi
		stop_pid "$NATS_PID"
		NATS_PID=
		log "nats-server did not come up on port $port (attempt $attempt):"
		tail -n 20 "$LOG_DIR/nats-server.log" >&2 || true
	done
	die "nats-server $NATS_VERSION would not start; see $LOG_DIR/nats-server.log"
}

start_ferretdb() {
	local attempt port debug_port rc
	for attempt in 1 2 3; do
		free_port
		port=$FREE_PORT
		free_port
		debug_port=$FREE_PORT
		mkdir -p "$WORK_DIR/ferretdb"
		"$BIN_DIR/ferretdb" \
			--handler=postgresql \
			--postgresql-url="postgres://$PG_USER@$PG_HOST:$PG_PORT/$PG_DATABASE" \
			--listen-addr="127.0.0.1:$port" \
			--debug-addr="127.0.0.1:$debug_port" \
			--state-dir="$WORK_DIR/ferretdb" \
			--telemetry=disable \
			--log-level=WARN \
			>"$LOG_DIR/ferretdb.log" 2>&1 &
		FERRETDB_PID=$!
		rc=0
		wait_ready "$FERRETDB_PID" "$port" || rc=$?
		if [ "$rc" -eq 0 ]; then
			FERRETDB_PORT=$port
			return 0
		fi
		stop_pid "$FERRETDB_PID"
		FERRETDB_PID=
		log "ferretdb did not come up on port $port (attempt $attempt):"
		tail -n 20 "$LOG_DIR/ferretdb.log" >&2 || true
	done
	die "ferretdb $FERRETDB_VERSION would not start; see $LOG_DIR/ferretdb.log"
}

# ------------------------------------------------------------------- main --

check_postgres || die "PostgreSQL is not reachable at $PG_HOST:$PG_PORT as user $PG_USER (trust auth expected).
  FerretDB stores the integration tests' documents there. Start it, e.g.:
    pg_ctlcluster --skip-systemctl-redirect \$(ls /etc/postgresql) main start"
check_redis || die "Redis is not reachable at $REDIS_HOST:$REDIS_PORT (PING did not answer PONG). Start it, e.g.:
    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save '' --appendonly no"
command -v psql >/dev/null 2>&1 ||
	die "psql (PostgreSQL client) is needed to create the FerretDB database; install postgresql-client"

install_nats
install_ferretdb

pg() {
	PGOPTIONS="-c client_min_messages=warning" psql -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -d postgres \
		-w -q -v ON_ERROR_STOP=1 "$@"
}

# Drop the databases of earlier runs whose process is gone (killed before its
# cleanup could run).
for db in $(pg -tAc "SELECT datname FROM pg_database WHERE datname LIKE '${PG_DB_PREFIX}%'"); do
	pid=${db#"$PG_DB_PREFIX"}
	case $pid in '' | *[!0-9]*) continue ;; esac
	if [ "$pid" != "$$" ] && ! kill -0 "$pid" 2>/dev/null; then
		log "dropping $db, left by a run that no longer exists"
		pg -c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null || true
	fi
done

log "creating PostgreSQL database $PG_DATABASE for FerretDB"
pg -c "DROP DATABASE IF EXISTS \"$PG_DATABASE\" WITH (FORCE)" -c "CREATE DATABASE \"$PG_DATABASE\"" >/dev/null ||
	die "could not create PostgreSQL database $PG_DATABASE"
DB_CREATED=1

start_nats
start_ferretdb

export IM_TEST_NATS_URL="nats://127.0.0.1:$NATS_PORT"
export IM_TEST_NATS_SERVER_BIN="$BIN_DIR/nats-server"
export IM_TEST_MONGO_URI="mongodb://127.0.0.1:$FERRETDB_PORT/"
export IM_TEST_REDIS_URL="redis://$REDIS_HOST:$REDIS_PORT/$REDIS_DB"
export IM_TEST_POSTGRES_URL="postgres://$PG_USER@$PG_HOST:$PG_PORT/$PG_DATABASE"

log "nats-server $NATS_VERSION  $IM_TEST_NATS_URL (pid $NATS_PID)"
log "ferretdb    $FERRETDB_VERSION  $IM_TEST_MONGO_URI (pid $FERRETDB_PID, PostgreSQL database $PG_DATABASE)"
log "redis       $IM_TEST_REDIS_URL"
log "running: $*"

status=0
"$@" || status=$?
if [ "$status" -ne 0 ]; then
	log "command failed with exit code $status; server logs are in $LOG_DIR"
fi
exit "$status"
