#!/bin/sh
# Development security material for the Kafka broker, generated with the JDK's keytool (present wherever the
# broker runs: the local JDK, the apache/kafka image): a CA, a broker certificate it signs, a random keystore
# password, and govx's own SCRAM password. Idempotent: what exists is kept. Operators bring their own instead.
#
#   scripts/kafka/dev-security.sh DIR [extra DNS name …]
#
# DIR/ca.pem           the CA certificate clients trust (GOVX_KAFKA_CA_FILE)
# DIR/ca.p12           the CA's key (never leaves DIR)
# DIR/broker.p12       the broker's key and certificate chain (SAN: 127.0.0.1, localhost and the extra names)
# DIR/keystore.password, DIR/govx.password   random secrets, mode 600
# DIR/govx-client.properties   govx's credentials for Kafka's own command-line tools (--command-config)
set -eu
dir="$1"; shift
sans="ip:127.0.0.1,dns:localhost"
for name in "$@"; do sans="$sans,dns:$name"; done
umask 077
mkdir -p "$dir"
cd "$dir"

secret() { head -c 48 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 40; }
[ -s govx.password ] || secret >govx.password
[ -s keystore.password ] || secret >keystore.password
store() {
  out="$(keytool "$@" -storetype PKCS12 -storepass:file keystore.password -noprompt 2>&1)" || { printf 'keytool %s failed:\n%s\n' "$1" "$out" >&2; exit 1; }
}

if [ ! -s ca.p12 ] || [ ! -s ca.pem ]; then
  rm -f ca.p12 ca.pem broker.p12
  store -genkeypair -keystore ca.p12 -alias ca -keyalg EC -groupname secp256r1 -validity 3650 \
    -dname "CN=govx development CA" -ext bc:c=ca:true -ext ku:c=keyCertSign,cRLSign
  store -exportcert -keystore ca.p12 -alias ca -rfc -file ca.pem
fi
if [ ! -s broker.p12 ] || [ "$(cat broker.sans 2>/dev/null)" != "$sans" ]; then
  rm -f broker.p12 broker.csr broker.crt
  store -genkeypair -keystore broker.p12 -alias broker -keyalg EC -groupname secp256r1 -validity 3650 \
    -dname "CN=govx development broker"
  store -certreq -keystore broker.p12 -alias broker -file broker.csr
  store -gencert -keystore ca.p12 -alias ca -infile broker.csr -outfile broker.crt -rfc -validity 3650 \
    -ext "san=$sans" -ext ku:c=digitalSignature -ext eku=serverAuth,clientAuth
  store -importcert -keystore broker.p12 -alias ca -file ca.pem
  store -importcert -keystore broker.p12 -alias broker -file broker.crt
  rm -f broker.csr
  printf '%s' "$sans" >broker.sans
fi
chmod 644 ca.pem
cat >govx-client.properties <<PROPS
security.protocol=SASL_SSL
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="govx" password="$(cat govx.password)";
ssl.truststore.type=PEM
ssl.truststore.location=$(pwd)/ca.pem
PROPS
