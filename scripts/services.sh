#!/usr/bin/env bash
# Starts and stops the services govx needs locally: a real single-node Apache Kafka broker (KRaft), resolved
# from Maven Central, and a check that PostgreSQL answers. Idempotent: `up` finds a running broker, `down`
# stops only the broker it started (by its recorded pid).
#
#   scripts/services.sh up|down|status
#
# Environment: KAFKA_BROKERS (first entry's port is the broker port, default 127.0.0.1:9092),
# GOVX_KAFKA_CONTROLLER_PORT (default broker port + 1), GOVX_CACHE_DIR (default .cache), DATABASE_URL.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache="${GOVX_CACHE_DIR:-$root/.cache}"
pom="$root/scripts/kafka/pom.xml"
kafka_version="$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$pom")"
brokers="${KAFKA_BROKERS:-127.0.0.1:9092}"
first="${brokers%%,*}"
host="${first%:*}"
port="${first##*:}"
controller_port="${GOVX_KAFKA_CONTROLLER_PORT:-$((port + 1))}"
libs="$cache/kafka/$kafka_version/libs"
state="$cache/kafka/broker-$port"
pidfile="$state/broker.pid"
logfile="$state/broker.log"
database_url="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/govx}"

say() { printf 'services: %s\n' "$*"; }

kafka_answers() { node "$root/scripts/wait-for-kafka.js" "$first" "${1:-0}" >/dev/null 2>&1; }

running_pid() {
  [ -f "$pidfile" ] || return 1
  local pid; pid="$(cat "$pidfile")"
  kill -0 "$pid" 2>/dev/null && grep -q 'kafka.Kafka' "/proc/$pid/cmdline" 2>/dev/null && echo "$pid"
}

resolve_jars() {
  if [ -f "$libs/.complete" ]; then return; fi
  command -v mvn >/dev/null || { say "mvn is required to resolve the Kafka jars (apt-get install maven)"; exit 1; }
  say "resolving Apache Kafka $kafka_version from Maven Central into $libs"
  rm -rf "$libs"; mkdir -p "$libs"
  mvn -q -B -f "$pom" dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$libs" >"$cache/kafka/mvn.log" 2>&1 \
    || { say "mvn failed; see $cache/kafka/mvn.log"; tail -20 "$cache/kafka/mvn.log"; exit 1; }
  touch "$libs/.complete"
}

check_postgres() {
  if node -e "
    const pg=require('pg'); const u=new URL(process.argv[1]); u.pathname='/postgres';
    const c=new pg.Client({connectionString:u.toString(),connectionTimeoutMillis:3000});
    c.connect().then(()=>c.end()).then(()=>process.exit(0),()=>process.exit(1));" "$database_url" 2>/dev/null; then
    say "PostgreSQL answers at ${database_url%%\?*}"
  else
    say "PostgreSQL does not answer at $database_url"
    return 1
  fi
}

# The PostgreSQL sink writes GeoJSON into PostGIS geometry columns; on a local Debian PostgreSQL the
# extension comes from Debian's postgresql-N-postgis-3 package.
ensure_postgis() {
  local major
  major="$(ls /etc/postgresql 2>/dev/null | sort -n | tail -1)"
  [ -n "$major" ] || return 0
  [ -f "/usr/share/postgresql/$major/extension/postgis.control" ] && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    say "installing PostGIS for PostgreSQL $major (postgresql-$major-postgis-3)"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "postgresql-$major-postgis-3") >"$cache/apt-postgis.log" 2>&1 \
      || say "warning: installing PostGIS failed (see $cache/apt-postgis.log); geospatial sinks will not work"
  else
    say "warning: PostGIS is not installed (apt-get install postgresql-$major-postgis-3); geospatial sinks will not work"
  fi
}

up() {
  check_postgres || say "warning: start PostgreSQL (govx needs it) or set DATABASE_URL"
  mkdir -p "$cache"
  ensure_postgis
  if pid="$(running_pid)"; then
    if kafka_answers 30; then say "Kafka $kafka_version already up on $first (pid $pid)"; return; fi
  fi
  if kafka_answers 0; then say "a Kafka broker already answers on $first (not started by govx; left alone)"; return; fi
  case "$host" in 127.0.0.1|localhost) ;; *) say "KAFKA_BROKERS points at $host: start that broker yourself"; exit 1;; esac
  resolve_jars
  mkdir -p "$state"
  local data="$state/data"
  cat >"$state/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$controller_port
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$controller_port
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$data
auto.create.topics.enable=false
num.partitions=3
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
log.retention.hours=168
PROPS
  if [ ! -f "$data/meta.properties" ]; then
    local cluster_id
    cluster_id="$(java -cp "$libs/*" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -1)"
    java -cp "$libs/*" -Dlog4j2.configurationFile="$root/scripts/kafka/log4j2.properties" -Dgovx.kafka.log="$logfile" \
      kafka.tools.StorageTool format -t "$cluster_id" -c "$state/server.properties" >>"$logfile" 2>&1 \
      || { say "formatting KRaft storage failed; see $logfile"; exit 1; }
  fi
  say "starting Apache Kafka $kafka_version on $first (log: $logfile)"
  nohup java ${GOVX_KAFKA_HEAP_OPTS:--Xms256m -Xmx768m} -XX:+UseG1GC -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$root/scripts/kafka/log4j2.properties" -Dgovx.kafka.log="$logfile" \
    -cp "$libs/*" kafka.Kafka "$state/server.properties" >>"$logfile" 2>&1 </dev/null &
  echo $! >"$pidfile"
  if kafka_answers 90; then
    say "Kafka is up (pid $(cat "$pidfile"))"
  else
    say "Kafka did not answer within 90s; last log lines:"; tail -20 "$logfile"; exit 1
  fi
}

down() {
  local pid
  if ! pid="$(running_pid)"; then say "no broker started by govx is running on port $port"; rm -f "$pidfile"; return; fi
  say "stopping Kafka (pid $pid)"
  kill -TERM "$pid"
  for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
  if kill -0 "$pid" 2>/dev/null; then say "broker did not stop in 30s; killing it"; kill -KILL "$pid"; fi
  rm -f "$pidfile"
  say "Kafka stopped"
}

status() {
  if pid="$(running_pid)" && kafka_answers 0; then say "Kafka $kafka_version up on $first (pid $pid)"; else say "Kafka down on $first"; fi
  check_postgres || true
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) status ;;
  *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac
