# The gateway image used by docker-compose.yml.

# govx sets departments' SCRAM credentials through Kafka's own Admin API (decision 0014): a small Java tool,
# compiled against the jars of the same Kafka the compose broker runs, and a JRE to run it.
FROM apache/kafka:4.4.0 AS kafka

FROM debian:bookworm-slim AS kafka-tools
RUN apt-get update && apt-get install -y --no-install-recommends openjdk-17-jdk-headless && rm -rf /var/lib/apt/lists/*
COPY --from=kafka /opt/kafka/libs /opt/kafka/libs
COPY scripts/kafka /src/scripts/kafka
RUN sh /src/scripts/kafka/build-tools.sh /opt/kafka/libs /opt/govx/kafka-tools

FROM node:20-bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends openjdk-17-jre-headless && rm -rf /var/lib/apt/lists/*
COPY --from=kafka /opt/kafka/libs /opt/kafka/libs
WORKDIR /app
COPY . .
COPY --from=kafka-tools /opt/govx/kafka-tools /opt/govx/kafka-tools
RUN npm ci --no-audit --no-fund && npm prune --omit=dev
ENV GOVX_HOST=0.0.0.0 GOVX_PORT=8080 GOVX_KAFKA_LIBS_DIR=/opt/kafka/libs GOVX_KAFKA_TOOLS_DIR=/opt/govx/kafka-tools
EXPOSE 8080
CMD ["node", "bin/govx.js", "serve", "--seed"]
