#!/usr/bin/env bash
# tools/api-contract.sh [BINARY] — the API against its own OpenAPI document, for real:
#
#   1. starts the platform (demo profile: embedded database and storage, the built-in identity
#      provider whose tokens are real signed JWTs) on a free loopback port, in a scratch directory
#   2. validates GET /api/openapi.json as OpenAPI 3.1 (openapi-spec-validator)
#   3. runs schemathesis against it once per persona (analyst, another country's analyst, EU
#      advisor, auditor, administrator) with every check: no 5xx on any generated input, every
#      status code, content type, header and body as documented, invalid input (wrong types, huge
#      values, malformed bodies) refused with a documented 4xx, schema-valid input accepted, auth
#      required, unsupported methods 405 with Allow — including stateful runs that follow the
#      links from a created document to the operations on it. tools/schemathesis.toml lists the
#      rules a schema cannot state (cross-field markings, part order, preconditions), each with
#      the statuses it allows and why.
#
# Exit 0 only when every run passes. Reports: target/api-contract/.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
binary=${1:-target/debug/anaspoc}
[ -x "$binary" ] || { echo "no binary at $binary (cargo build first)" >&2; exit 1; }
binary=$(cd "$(dirname "$binary")" && pwd)/$(basename "$binary")
examples=${ANASPOC_CONTRACT_EXAMPLES:-40}
seed=${ANASPOC_CONTRACT_SEED:-20261201}
reports=$root/target/api-contract
mkdir -p "$reports"

venv=$root/target/api-contract-venv
if [ "$("$venv/bin/schemathesis" --version 2>/dev/null)" != "schemathesis, version 4.32.5" ] ||
  ! "$venv/bin/openapi-spec-validator" --help >/dev/null 2>&1; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check schemathesis==4.32.5 openapi-spec-validator==0.9.0
fi

work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"
(
  cd "$work"
  # Generous limits: the run is a flood by design, and throttling is tested elsewhere.
  ANASPOC__SERVER__BIND="127.0.0.1:$port" ANASPOC__SERVER__PUBLIC_URL="$base" ANASPOC__LOG__LEVEL=warn ANASPOC__LOG__FORMAT=json \
    ANASPOC__LIMITS__SEARCHES_PER_MINUTE=100000 ANASPOC__LIMITS__UPLOADS_PER_MINUTE=100000 \
    ANASPOC__LIMITS__DOWNLOADS_PER_MINUTE=100000 ANASPOC__LIMITS__AUTH_FAILURES_PER_MINUTE=100000 \
    ANASPOC__LIMITS__REQUESTS_PER_MINUTE=100000 \
    exec "$binary" demo >"$reports/server.log" 2>&1
) &
server=$!
cleanup() {
  kill "$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
for _ in $(seq 1 120); do curl -fsS -o /dev/null "$base/readyz" 2>/dev/null && break; sleep 0.5; done
curl -fsS -o /dev/null "$base/readyz" || { cat "$reports/server.log" >&2; exit 1; }

echo "-- the document validates as OpenAPI 3.1"
curl -fsS "$base/api/openapi.json" -o "$reports/openapi.json"
"$venv/bin/openapi-spec-validator" --schema 3.1.0 "$reports/openapi.json"

failed=()
for persona in analyst-rs analyst-al advisor-europol auditor admin; do
  echo "-- schemathesis as $persona"
  token=$(curl -fsS "$base/demo-idp/token" -d grant_type=password -d username="$persona" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
  if ! "$venv/bin/schemathesis" --config-file tools/schemathesis.toml run "$base/api/openapi.json" \
    --header "Authorization: Bearer $token" --checks all \
    --max-examples "$examples" --seed "$seed" --request-timeout 30 --max-failures 100 \
    --report junit --report-dir "$reports/$persona" --no-color >"$reports/$persona.log" 2>&1; then
    failed+=("$persona")
    sed -n '/= FAILURES =/,$p' "$reports/$persona.log" | head -120
  fi
  grep -E "^\s+[0-9]+ generated" "$reports/$persona.log" || tail -3 "$reports/$persona.log"
done
if ! grep -q '"level":"ERROR"' "$reports/server.log"; then
  echo "-- server log: no errors"
else
  echo "-- server log has errors:" && grep '"level":"ERROR"' "$reports/server.log" | head -20
  failed+=("server-errors")
fi
if [ "${#failed[@]}" -gt 0 ]; then
  echo "API CONTRACT FAILED: ${failed[*]} (reports in $reports)" >&2
  exit 1
fi
echo "-- API contract holds for every persona"
