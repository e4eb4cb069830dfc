#!/usr/bin/env bash
# Local PostgreSQL and Apache Kafka (KRaft) on loopback for tests and benchmarks.
#   scripts/infra.sh up            install where absent, start where not running, reuse where running
#   scripts/infra.sh down          stop both
#   scripts/infra.sh kafka-stop|kafka-kill|kafka-start|pg-stop|pg-start   (fault tests)
#   scripts/infra.sh env           print the environment file path
# State lives under $CLAIMS_INFRA_DIR (default /tmp/claims-infra); secrets are generated on first use.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
INFRA_DIR=${CLAIMS_INFRA_DIR:-/tmp/claims-infra}
PG_PORT=${CLAIMS_PG_PORT:-55432}
KAFKA_PORT=${CLAIMS_KAFKA_PORT:-19092}
KAFKA_CONTROLLER_PORT=${CLAIMS_KAFKA_CONTROLLER_PORT:-19093}
SERVICES="intake adjudication payment notification"
PGDATA="$INFRA_DIR/pg/data"
KAFKA_HOME="$INFRA_DIR/kafka"
ENV_FILE="$INFRA_DIR/test.env"

say() { echo "[infra] $*" >&2; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

secret() { # secret NAME -> a stable random value stored under the infra dir
  local f="$INFRA_DIR/secrets/$1"
  if [ ! -s "$f" ]; then
    mkdir -p "$INFRA_DIR/secrets"; chmod 700 "$INFRA_DIR/secrets"
    head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$f"; chmod 600 "$f"
  fi
  cat "$f"
}

pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }

as_postgres() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

pg_install() {
  if [ -z "$(pg_bin)" ] || [ ! -x "$(pg_bin)/postgres" ]; then
    say "installing PostgreSQL from Debian's packages"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq postgresql >/dev/null
  fi
  if [ "$(id -u)" = 0 ] && ! id postgres >/dev/null 2>&1; then useradd -r -m postgres; fi
}

pg_start() {
  pg_install
  local bin; bin=$(pg_bin)
  mkdir -p "$INFRA_DIR/pg"
  [ "$(id -u)" = 0 ] && chown postgres "$INFRA_DIR/pg"
  if [ ! -f "$PGDATA/PG_VERSION" ]; then
    say "initialising a PostgreSQL cluster in $PGDATA"
    local pwfile="$INFRA_DIR/pg/.pw"
    secret pg_admin > "$pwfile"; [ "$(id -u)" = 0 ] && chown postgres "$pwfile"
    as_postgres "$bin/initdb" -D "$PGDATA" -U claims_admin --pwfile="$pwfile" -A scram-sha-256 -E UTF8 --locale=C.UTF-8 >/dev/null
    rm -f "$pwfile"
  fi
  if ! port_open "$PG_PORT"; then
    say "starting PostgreSQL on 127.0.0.1:$PG_PORT"
    as_postgres "$bin/pg_ctl" -D "$PGDATA" -l "$INFRA_DIR/pg/server.log" -w -t 60 \
      -o "-p $PG_PORT -c listen_addresses=127.0.0.1 -k $INFRA_DIR/pg -c max_connections=300 -c shared_buffers=256MB" start >/dev/null
  fi
  for _ in $(seq 1 60); do "$bin/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" && break; sleep 0.5; done
  pg_roles
}

pg_roles() { # one database and one role per service, no cross grants
  local bin; bin=$(pg_bin)
  export PGPASSWORD; PGPASSWORD=$(secret pg_admin)
  for s in $SERVICES; do
    local role="claims_$s" pw; pw=$(secret "pg_$s")
    "$bin/psql" -q -h 127.0.0.1 -p "$PG_PORT" -U claims_admin -d postgres -v ON_ERROR_STOP=1 <<SQL >/dev/null
SELECT 'CREATE ROLE $role LOGIN' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$role')\gexec
ALTER ROLE $role PASSWORD '$pw';
SELECT 'CREATE DATABASE $role OWNER $role' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '$role')\gexec
REVOKE ALL ON DATABASE $role FROM PUBLIC;
SQL
  done
  unset PGPASSWORD
}

pg_stop() {
  local bin; bin=$(pg_bin)
  [ -f "$PGDATA/postmaster.pid" ] && as_postgres "$bin/pg_ctl" -D "$PGDATA" -m fast -w stop >/dev/null || true
}

kafka_install() {
  if [ ! -f "$KAFKA_HOME/libs/.complete" ]; then
    say "fetching Apache Kafka's jars with Maven"
    mkdir -p "$KAFKA_HOME/libs"
    mvn -q -B -f "$ROOT/scripts/kafka/pom.xml" dependency:copy-dependencies \
      -DoutputDirectory="$KAFKA_HOME/libs" -DincludeScope=runtime >&2
    touch "$KAFKA_HOME/libs/.complete"
  fi
}

kafka_start() {
  kafka_install
  local props="$KAFKA_HOME/server.properties"
  cat > "$props" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs=$KAFKA_HOME/data
num.partitions=6
offsets.topic.replication.factor=1
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
PROPS
  local cp="$KAFKA_HOME/libs/*"
  if [ ! -f "$KAFKA_HOME/data/meta.properties" ]; then
    java -cp "$cp" kafka.tools.StorageTool format --standalone -t "$(java -cp "$cp" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n 1)" \
      -c "$props" >/dev/null 2>&1 || java -cp "$cp" kafka.tools.StorageTool format \
      -t "$(java -cp "$cp" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n 1)" -c "$props" >/dev/null
  fi
  if ! port_open "$KAFKA_PORT"; then
    say "starting Apache Kafka (KRaft) on 127.0.0.1:$KAFKA_PORT"
    setsid nohup java -Xms256m -Xmx768m -XX:+UseG1GC \
      -Dlog4j2.configurationFile="$ROOT/scripts/kafka/log4j2.properties" \
      -cp "$cp" kafka.Kafka "$props" > "$KAFKA_HOME/server.log" 2>&1 < /dev/null &
    echo $! > "$KAFKA_HOME/pid"
  fi
  for _ in $(seq 1 120); do port_open "$KAFKA_PORT" && return 0; sleep 0.5; done
  say "Kafka did not open its port; last lines of its log:"; tail -n 30 "$KAFKA_HOME/server.log" >&2; return 1
}

kafka_signal() {
  local pid; pid=$(cat "$KAFKA_HOME/pid" 2>/dev/null || true)
  [ -n "$pid" ] && kill "-$1" "$pid" 2>/dev/null || true
  for _ in $(seq 1 60); do port_open "$KAFKA_PORT" || return 0; sleep 0.5; done
}

write_env() {
  mkdir -p "$INFRA_DIR"
  {
    echo "export CLAIMS_TEST_PG_ADMIN_URL=postgresql+asyncpg://claims_admin:$(secret pg_admin)@127.0.0.1:$PG_PORT/postgres"
    for s in $SERVICES; do
      echo "export CLAIMS_TEST_$(echo "$s" | tr a-z A-Z)_DATABASE_URL=postgresql+asyncpg://claims_$s:$(secret "pg_$s")@127.0.0.1:$PG_PORT/claims_$s"
    done
    echo "export CLAIMS_TEST_KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:$KAFKA_PORT"
    echo "export CLAIMS_TEST_JWT_SECRET=$(secret jwt)$(secret jwt2)"
    echo "export CLAIMS_INFRA_SCRIPT=$ROOT/scripts/infra.sh"
  } > "$ENV_FILE"
  chmod 600 "$ENV_FILE"
}

case "${1:-up}" in
  up) pg_start; kafka_start; write_env; say "ready; environment in $ENV_FILE" ;;
  down) kafka_signal TERM; pg_stop ;;
  pg-start) pg_start ;;
  pg-stop) pg_stop ;;
  kafka-start) kafka_start ;;
  kafka-stop) kafka_signal TERM ;;
  kafka-kill) kafka_signal KILL ;;
  env) echo "$ENV_FILE" ;;
  *) echo "usage: $0 up|down|pg-start|pg-stop|kafka-start|kafka-stop|kafka-kill|env" >&2; exit 2 ;;
esac
