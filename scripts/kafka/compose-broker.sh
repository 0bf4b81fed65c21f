#!/bin/sh
# docker-compose.yml's Kafka entrypoint (inside the official apache/kafka image): the same secured broker as
# scripts/services.sh starts. First start generates the development CA, broker certificate and govx's
# password into the secrets volume (which the gateway and connect workers mount read-only) and formats the
# storage with govx's SCRAM credential; later starts reuse both. Operators replace the secrets volume's
# ca.pem/broker.p12/keystore.password/govx.password with their own.
set -eu
here="$(dirname "$0")"
secrets=/secrets
data=/var/lib/kafka/data
sh "$here/dev-security.sh" "$secrets" kafka

BROKER_LISTENERS="SASL_SSL://:19092,EXTERNAL://:9092" \
BROKER_ADVERTISED="SASL_SSL://kafka:19092,EXTERNAL://127.0.0.1:9092" \
BROKER_CONTROLLER="kafka:9093" BROKER_DATA="$data" BROKER_SECURITY="$secrets" \
  sh "$here/broker-properties.sh" >/tmp/server.properties

if [ ! -f "$data/meta.properties" ]; then
  /opt/kafka/bin/kafka-storage.sh format -t "$(/opt/kafka/bin/kafka-storage.sh random-uuid)" -c /tmp/server.properties \
    --add-scram "SCRAM-SHA-512=[name=govx,password=$(cat "$secrets/govx.password")]"
fi
exec /opt/kafka/bin/kafka-server-start.sh /tmp/server.properties
