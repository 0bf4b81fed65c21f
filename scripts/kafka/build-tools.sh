#!/bin/sh
# Compiles govx's small Java tools for Kafka (scripts/kafka/tools/*.java: GovxScramCredentials, which sets
# departments' SCRAM credentials through Kafka's Admin API) against the resolved Kafka jars, into a cache
# directory. Idempotent: does nothing while the classes are newer than their sources. Safe to run
# concurrently (each run compiles into a directory of its own and renames the classes into place).
#
#   scripts/kafka/build-tools.sh LIBS_DIR OUT_DIR
set -eu
libs="$1"
out="$2"
src="$(cd "$(dirname "$0")/tools" && pwd)"
stale=0
for f in "$src"/*.java; do
  class="$out/$(basename "$f" .java).class"
  [ -f "$class" ] && [ "$class" -nt "$f" ] || stale=1
done
[ "$stale" = 1 ] || exit 0
command -v javac >/dev/null || { echo "javac (JDK 17 or newer) is needed to build govx's Kafka tools" >&2; exit 1; }
ls "$libs"/kafka-clients-*.jar >/dev/null 2>&1 || { echo "no Kafka client jars in $libs (run npm run services:up, or set GOVX_KAFKA_LIBS_DIR)" >&2; exit 1; }
mkdir -p "$out"
tmp="$(mktemp -d "$out/.build.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
javac --release 17 -nowarn -d "$tmp" -cp "$libs/*" "$src"/*.java
for class in "$tmp"/*.class; do mv -f "$class" "$out/"; done
