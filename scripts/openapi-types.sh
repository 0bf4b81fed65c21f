#!/usr/bin/env bash
# gateway/openapi.d.ts is generated from gateway/openapi.yaml by openapi-typescript.
#   scripts/openapi-types.sh          regenerate it
#   scripts/openapi-types.sh --check  fail when it is stale (run by `npm run typecheck`, hence by CI)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
spec="$root/gateway/openapi.yaml"
out="$root/gateway/openapi.d.ts"
gen="$root/node_modules/.bin/openapi-typescript"
if [ "${1:-}" = "--check" ]; then
  tmp="$(mktemp --suffix=.d.ts)"
  trap 'rm -f "$tmp"' EXIT
  "$gen" "$spec" --output "$tmp" >/dev/null 2>&1 || { echo "openapi: gateway/openapi.yaml does not generate types:"; "$gen" "$spec" --output "$tmp"; exit 1; }
  if ! cmp -s "$tmp" "$out"; then
    echo "openapi: gateway/openapi.d.ts is stale; run \`npm run openapi:types\` and commit the result" >&2
    diff -u "$out" "$tmp" | head -40 >&2 || true
    exit 1
  fi
  echo "openapi: gateway/openapi.d.ts is up to date"
else
  "$gen" "$spec" --output "$out"
fi
