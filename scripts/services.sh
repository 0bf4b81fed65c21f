#!/usr/bin/env bash
# Starts and stops the services govx needs locally: a real single-node Apache Kafka broker (KRaft), resolved
# from Maven Central and secured (SASL_SSL with SCRAM-SHA-512, a development CA, StandardAuthorizer, govx the
# only super user; see docs/decisions/0008-kafka-security.md), and a check that PostgreSQL answers.
# Idempotent: `up` finds a running broker (and restarts, reformatted, one left from an older insecure or
# differently keyed configuration), `down` stops only the broker it started (by its recorded pid).
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
tools="$cache/kafka/$kafka_version/govx-tools"
security="$cache/kafka/security"
state="$cache/kafka/broker-$port"
pidfile="$state/broker.pid"
logfile="$state/broker.log"
database_url="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/govx}"

say() { printf 'services: %s\n' "$*"; }

# The broker answers govx's own (development) credentials over TLS.
kafka_answers() {
  GOVX_KAFKA_CA_FILE="$security/ca.pem" GOVX_KAFKA_PASSWORD_FILE="$security/govx.password" GOVX_KAFKA_USERNAME=govx \
    GOVX_KAFKA_PASSWORD= GOVX_KAFKA_CERT_FILE= GOVX_KAFKA_KEY_FILE= GOVX_KAFKA_SASL_MECHANISM=scram-sha-512 \
    node "$root/scripts/wait-for-kafka.js" "$first" "${1:-0}" >/dev/null
}

port_in_use() { (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; }

# What the broker's state was formatted for: the listener security and govx's SCRAM password. A state made
# for anything else (an older PLAINTEXT broker, a regenerated password) is reformatted.
security_fingerprint() { printf 'sasl_ssl-scram-sha-512 %s' "$(sha256sum <"$security/govx.password" | cut -c1-64)"; }

# wait-for-kafka.js runs the compiled lib/kafka.ts (the one place a Kafka client is configured).
ensure_client_built() {
  local stale=0 f
  for f in kafka config logger paths; do
    [ "$root/dist/lib/$f.js" -nt "$root/lib/$f.ts" ] || stale=1
  done
  [ "$stale" = 0 ] && return
  say "compiling the Kafka client configuration (npm run build)"
  # tsc emits despite type errors elsewhere in a work in progress; only a missing output is fatal here.
  (cd "$root" && npm run --silent build >"$cache/build.log" 2>&1) || true
  [ "$root/dist/lib/kafka.js" -nt "$root/lib/kafka.ts" ] || { say "npm run build failed; see $cache/build.log"; exit 1; }
}

# SCRAM needs the password only as the broker stores it: salted and hashed here, so it is never on a command line.
scram_spec() {
  node -e "
    const crypto=require('crypto'); const password=require('fs').readFileSync(process.argv[1],'utf8').trim();
    const salt=crypto.randomBytes(32); const iterations=8192;
    const salted=crypto.pbkdf2Sync(password,salt,iterations,64,'sha512');
    process.stdout.write('SCRAM-SHA-512=[name=govx,iterations='+iterations+',salt=\"'+salt.toString('base64')+'\",saltedpassword=\"'+salted.toString('base64')+'\"]');
  " "$security/govx.password"
}

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

# govx sets departments' SCRAM credentials with a small Java program compiled against these jars (decision 0014).
ensure_kafka_tools() {
  sh "$root/scripts/kafka/build-tools.sh" "$libs" "$tools" >"$cache/kafka/tools-build.log" 2>&1 \
    || { say "compiling govx's Kafka tools failed; see $cache/kafka/tools-build.log"; tail -20 "$cache/kafka/tools-build.log"; exit 1; }
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
  case "$host" in 127.0.0.1|localhost) ;; *) say "KAFKA_BROKERS points at $host: start that broker yourself"; exit 1;; esac
  resolve_jars
  ensure_kafka_tools
  ensure_client_built
  sh "$root/scripts/kafka/dev-security.sh" "$security" kafka || { say "generating the development CA and broker certificate failed"; exit 1; }
  local current=0 data="$state/data"
  [ "$(cat "$state/security" 2>/dev/null)" = "$(security_fingerprint)" ] && current=1
  mkdir -p "$state"
  (umask 077; BROKER_LISTENERS="SASL_SSL://127.0.0.1:$port" BROKER_ADVERTISED="SASL_SSL://127.0.0.1:$port" \
    BROKER_CONTROLLER="127.0.0.1:$controller_port" BROKER_DATA="$data" BROKER_SECURITY="$security" \
    sh "$root/scripts/kafka/broker-properties.sh" >"$state/server.properties.next")
  if pid="$(running_pid)"; then
    if [ "$current" = 1 ] && cmp -s "$state/server.properties.next" "$state/server.properties" && kafka_answers 30; then
      rm -f "$state/server.properties.next"
      say "Kafka $kafka_version already up on $first (pid $pid)"; return
    fi
    if [ "$current" = 1 ]; then say "the broker on $first (pid $pid) runs older settings: restarting it"
    else say "the broker on $first (pid $pid) runs an older, insecure or differently keyed configuration: replacing it"; fi
    down
  elif port_in_use; then
    rm -f "$state/server.properties.next"
    if kafka_answers 5; then say "a secured Kafka broker already answers on $first (not started by govx; left alone)"; return; fi
    say "port $port is in use by a process govx did not start (an old PLAINTEXT broker?); stop it or pick another KAFKA_BROKERS port"
    exit 1
  fi
  mv "$state/server.properties.next" "$state/server.properties"
  if [ "$current" = 0 ] && [ -e "$data" ]; then
    say "reformatting the broker state in $state for SASL_SSL (its topics are dropped)"
    rm -rf "$data"
  fi
  if [ ! -f "$data/meta.properties" ]; then
    local cluster_id
    cluster_id="$(java -cp "$libs/*" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -1)"
    java -cp "$libs/*" -Dlog4j2.configurationFile="$root/scripts/kafka/log4j2.properties" -Dgovx.kafka.log="$logfile" \
      kafka.tools.StorageTool format -t "$cluster_id" -c "$state/server.properties" --add-scram "$(scram_spec)" >>"$logfile" 2>&1 \
      || { say "formatting KRaft storage failed; see $logfile"; exit 1; }
  fi
  security_fingerprint >"$state/security"
  say "starting Apache Kafka $kafka_version on $first (log: $logfile)"
  nohup java ${GOVX_KAFKA_HEAP_OPTS:--Xms256m -Xmx768m} -XX:+UseG1GC -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$root/scripts/kafka/log4j2.properties" -Dgovx.kafka.log="$logfile" \
    -cp "$libs/*" kafka.Kafka "$state/server.properties" >>"$logfile" 2>&1 </dev/null &
  echo $! >"$pidfile"
  if kafka_answers 90; then
    say "Kafka is up (pid $(cat "$pidfile")): SASL_SSL, CA $security/ca.pem"
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
