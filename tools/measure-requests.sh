#!/usr/bin/env bash
# Latency and throughput of audited reads (document metadata and download) under wrk, and the
# share of it spent writing the audit event (from the server's own metrics). Prints figures;
# asserts nothing. Needs `wrk` (Debian package) and a release build.
#
#   cargo build --release && tools/measure-requests.sh            # SQLite
#   ANASPOC__DATABASE__URL=postgres://postgres@127.0.0.1/bench tools/measure-requests.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bin=target/release/anaspoc
command -v wrk >/dev/null || { echo "install wrk (apt-get install wrk)" >&2; exit 1; }
work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"
export ANASPOC__SERVER__BIND="127.0.0.1:$port" ANASPOC__SERVER__PUBLIC_URL="$base" ANASPOC__LOG__LEVEL=error
export ANASPOC__DATABASE__URL="${ANASPOC__DATABASE__URL:-sqlite://$work/anaspoc.db?mode=rwc}"
export ANASPOC__STORAGE__PATH="$work/objects" ANASPOC__AUDIT__SIGNING_KEY_FILE="$work/key.pem"
"$bin" demo > "$work/server.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 1 100); do curl -fs -o /dev/null "$base/readyz" 2>/dev/null && break; sleep 0.1; done
token=$(curl -s "$base/demo-idp/token" -d grant_type=password -d username=analyst-rs | jq -r .access_token)
printf 'Анализа: организовани криминал\n%.0s' $(seq 1 200) > "$work/doc.txt"
id=$(curl -s -H "Authorization: Bearer $token" \
  -F 'metadata={"title":"bench","classification":"SENSITIVE","tlp":"AMBER","handling_code":"H1","releasable_to":["ALL"],"publish":true};type=application/json' \
  -F "file=@$work/doc.txt" "$base/api/v1/documents" | jq -r .id)

metric() { curl -s "$base/metrics" | awk -v m="$1" '$1 == m {print $2}'; }
run() { # label path connections
  local before_sum before_count
  before_sum=$(metric anaspoc_audit_record_seconds_sum); before_count=$(metric anaspoc_audit_record_seconds_count)
  local out; out=$(wrk -t "$3" -c "$3" -d 8s --latency -H "Authorization: Bearer $token" "$base$2")
  local sum count; sum=$(metric anaspoc_audit_record_seconds_sum); count=$(metric anaspoc_audit_record_seconds_count)
  local rps p50 p99
  rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  p50=$(echo "$out" | awk '$1 == "50%" {print $2}'); p99=$(echo "$out" | awk '$1 == "99%" {print $2}')
  local audit_ms="-"; [ "$count" != "$before_count" ] && audit_ms=$(echo "scale=3; ($sum - $before_sum) * 1000 / ($count - $before_count)" | bc)
  printf '%-28s %3s conn  %8s req/s  p50 %8s  p99 %8s  audit write mean %s ms\n' "$1" "$3" "$rps" "$p50" "$p99" "$audit_ms"
}
echo "database: ${ANASPOC__DATABASE__URL%%\?*}"
for c in 1 4; do
  run "GET document metadata" "/api/v1/documents/$id" "$c"
  run "GET document content" "/api/v1/documents/$id/content" "$c"
done
run "GET /healthz (no auth, no audit)" "/healthz" 1
