# The gateway image used by docker-compose.yml.
FROM node:20-bookworm-slim
WORKDIR /app
COPY . .
RUN npm ci --no-audit --no-fund && npm prune --omit=dev
ENV GOVX_HOST=0.0.0.0 GOVX_PORT=8080
EXPOSE 8080
CMD ["node", "bin/govx.js", "serve", "--seed"]
