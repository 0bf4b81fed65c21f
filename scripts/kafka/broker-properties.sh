#!/bin/sh
# Prints the server.properties of govx's secured single-node KRaft broker (used by scripts/services.sh and by
# docker-compose.yml, so both run the same security settings):
# - every client listener is SASL_SSL with SCRAM-SHA-512 only; there is no PLAINTEXT listener;
# - the KRaft controller listener is SASL_SSL too, with SASL/PLAIN whose only user is govx (SCRAM credentials
#   live in the metadata log, so a controller cannot use them): a client that reaches it without govx's
#   password is refused;
# - StandardAuthorizer denies whatever no ACL allows; govx's principal is the only super user.
#
# Environment: BROKER_LISTENERS (e.g. SASL_SSL://127.0.0.1:9092 or SASL_SSL://:19092,EXTERNAL://:9092),
# BROKER_ADVERTISED (same names, reachable addresses), BROKER_CONTROLLER (host:port), BROKER_DATA (log dir),
# BROKER_SECURITY (the directory scripts/kafka/dev-security.sh filled), BROKER_USER (default govx).
set -eu
user="${BROKER_USER:-govx}"
sec="$BROKER_SECURITY"
password="$(cat "$sec/govx.password")"
storepass="$(cat "$sec/keystore.password")"
first_listener="${BROKER_LISTENERS%%:*}"

protocol_map="CONTROLLER:SASL_SSL"
per_listener=""
old_ifs="$IFS"; IFS=','
for listener in $BROKER_LISTENERS; do
  name="${listener%%:*}"
  lower="$(printf '%s' "$name" | tr 'A-Z' 'a-z')"
  protocol_map="$protocol_map,$name:SASL_SSL"
  per_listener="${per_listener}listener.name.$lower.sasl.enabled.mechanisms=SCRAM-SHA-512
listener.name.$lower.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username=\"$user\" password=\"$password\";
"
done
IFS="$old_ifs"

cat <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@$BROKER_CONTROLLER
listeners=$BROKER_LISTENERS,CONTROLLER://$BROKER_CONTROLLER
advertised.listeners=$BROKER_ADVERTISED
controller.listener.names=CONTROLLER
inter.broker.listener.name=$first_listener
listener.security.protocol.map=$protocol_map
sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512
${per_listener}sasl.mechanism.controller.protocol=PLAIN
listener.name.controller.sasl.enabled.mechanisms=PLAIN
listener.name.controller.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="$user" password="$password" user_$user="$password";
ssl.keystore.type=PKCS12
ssl.keystore.location=$sec/broker.p12
ssl.keystore.password=$storepass
ssl.key.password=$storepass
ssl.truststore.type=PEM
ssl.truststore.location=$sec/ca.pem
ssl.client.auth=none
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
allow.everyone.if.no.acl.found=false
super.users=User:$user
log.dirs=$BROKER_DATA
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
