#!/usr/bin/env bash
# Upload/download throughput and the server's memory for 1 MiB and 1 GiB files, on the local
# filesystem or an S3 peer. Prints a table; asserts nothing (timings vary by machine).
#
#   cargo build --release && tools/measure-uploads.sh local
#   tools/measure-uploads.sh s3     # needs ANASPOC_TEST_S3_ENDPOINT, ANASPOC_TEST_S3_BUCKET, AWS_*
set -euo pipefail
cd "$(dirname "$0")/.."
kind=${1:-local}
bin=target/release/anaspoc
[ -x "$bin" ] || { echo "build first: cargo build --release" >&2; exit 1; }

work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"
export ANASPOC__SERVER__BIND="127.0.0.1:$port" ANASPOC__SERVER__PUBLIC_URL="$base"
export ANASPOC__DATABASE__URL="sqlite://$work/anaspoc.db?mode=rwc" ANASPOC__STORAGE__PATH="$work/objects"
export ANASPOC__LIMITS__MAX_UPLOAD_BYTES=2147483648 ANASPOC__LOG__LEVEL=warn
if [ "$kind" = s3 ]; then
  export ANASPOC__STORAGE__KIND=s3 ANASPOC__STORAGE__ENDPOINT="$ANASPOC_TEST_S3_ENDPOINT"
  export ANASPOC__STORAGE__BUCKET="$ANASPOC_TEST_S3_BUCKET" ANASPOC__STORAGE__ALLOW_HTTP=true
  export ANASPOC__STORAGE__PREFIX="measure-$(date +%s)"
fi
"$bin" demo > "$work/server.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 1 100); do curl -fs -o /dev/null "$base/readyz" 2>/dev/null && break; sleep 0.1; done

kib() { awk -v k="$1" '$1 == k":" {print $2}' "/proc/$pid/status"; }
token=$(curl -s "$base/demo-idp/token" -d grant_type=password -d username=analyst-rs | jq -r .access_token)
meta='{"title":"measure","classification":"SENSITIVE","tlp":"AMBER","handling_code":"H1","releasable_to":["ALL"]};type=application/json'
upload() { curl -s -o "$work/last.json" -w '%{http_code}' -H "Authorization: Bearer $token" -F "metadata=$meta" -F "file=@$1" "$base/api/v1/documents"; }

head -c 1048576 /dev/urandom > "$work/1m"
upload "$work/1m" > /dev/null   # warm-up
rss_idle=$(kib VmRSS)

n=50
start=$(date +%s.%N)
for _ in $(seq 1 $n); do [ "$(upload "$work/1m")" = 201 ] || { echo "1 MiB upload failed" >&2; exit 1; }; done
secs_small=$(echo "$(date +%s.%N) - $start" | bc)
hwm_small=$(kib VmHWM)

head -c 1073741824 /dev/urandom > "$work/1g"
start=$(date +%s.%N)
[ "$(upload "$work/1g")" = 201 ] || { echo "1 GiB upload failed" >&2; cat "$work/last.json" >&2; exit 1; }
secs_big=$(echo "$(date +%s.%N) - $start" | bc)
hwm_big=$(kib VmHWM)
id=$(jq -r .id "$work/last.json")
start=$(date +%s.%N)
curl -s -H "Authorization: Bearer $token" "$base/api/v1/documents/$id/content" -o "$work/1g.out"
secs_down=$(echo "$(date +%s.%N) - $start" | bc)
hwm_down=$(kib VmHWM)
cmp -s "$work/1g" "$work/1g.out" && same=yes || same=NO

printf '\nstorage: %s\n' "$kind"
printf '%-34s %s\n' "server RSS after warm-up" "$((rss_idle / 1024)) MiB"
printf '%-34s %s\n' "1 MiB uploads ($n sequential)" "$(echo "scale=1; $n / $secs_small" | bc) uploads/s, $(echo "scale=1; $n / $secs_small" | bc) MiB/s"
printf '%-34s %s\n' "  peak RSS so far" "$((hwm_small / 1024)) MiB"
printf '%-34s %s\n' "1 GiB upload" "$(echo "scale=1; $secs_big" | bc) s, $(echo "scale=0; 1024 / $secs_big" | bc) MiB/s"
printf '%-34s %s\n' "  peak RSS so far" "$((hwm_big / 1024)) MiB"
printf '%-34s %s\n' "1 GiB download" "$(echo "scale=1; $secs_down" | bc) s, $(echo "scale=0; 1024 / $secs_down" | bc) MiB/s, bytes identical: $same"
printf '%-34s %s\n' "  peak RSS so far" "$((hwm_down / 1024)) MiB"
