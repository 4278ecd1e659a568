#!/bin/sh
# Render the nginx configuration from the environment, check it, then run nginx in the foreground.
#   ANASPOC_HOST          public host name of the platform (server_name), e.g. analysis.anaspoc.example
#   ANASPOC_UPSTREAMS     the replicas, space-separated host:port, e.g. "anaspoc-1:8080 anaspoc-2:8080"
#   ANASPOC_SSO_HOST      optional: public host name of the identity provider, proxied to
#   ANASPOC_SSO_UPSTREAM  its host:port (e.g. keycloak:8080)
#   ANASPOC_TLS_PORT      TLS port inside the container (8443); ANASPOC_REDIRECT_PORT (8081)
#   ANASPOC_MAX_UPLOAD    client_max_body_size (512m: the platform's limits.max_upload_bytes)
set -eu
: "${ANASPOC_HOST:?set ANASPOC_HOST to the platform public host name}"
: "${ANASPOC_UPSTREAMS:?set ANASPOC_UPSTREAMS to the replicas (host:port ...)}"
export ANASPOC_TLS_PORT="${ANASPOC_TLS_PORT:-8443}" ANASPOC_REDIRECT_PORT="${ANASPOC_REDIRECT_PORT:-8081}"
export ANASPOC_MAX_UPLOAD="${ANASPOC_MAX_UPLOAD:-512m}" ANASPOC_SSO_HOST="${ANASPOC_SSO_HOST:-}"
export ANASPOC_SSO_UPSTREAM="${ANASPOC_SSO_UPSTREAM:-}"
servers=""
for upstream in $ANASPOC_UPSTREAMS; do
  servers="${servers}server ${upstream} max_fails=2 fail_timeout=5s; "
done
export ANASPOC_UPSTREAM_SERVERS="$servers"
mkdir -p /tmp/anaspoc-proxy/sites
render() { # template, output: only the listed variables are replaced, nginx's own $variables stay
  # shellcheck disable=SC2016
  envsubst '${ANASPOC_HOST} ${ANASPOC_UPSTREAM_SERVERS} ${ANASPOC_TLS_PORT} ${ANASPOC_REDIRECT_PORT} ${ANASPOC_MAX_UPLOAD} ${ANASPOC_SSO_HOST} ${ANASPOC_SSO_UPSTREAM}' \
    < "$1" > "$2"
}
render /etc/anaspoc-proxy/nginx.conf.template /tmp/anaspoc-proxy/nginx.conf
if [ -n "$ANASPOC_SSO_HOST" ]; then
  : "${ANASPOC_SSO_UPSTREAM:?set ANASPOC_SSO_UPSTREAM (host:port of the identity provider)}"
  render /etc/anaspoc-proxy/sso.conf.template /tmp/anaspoc-proxy/sites/sso.conf
fi
nginx -t -q -c /tmp/anaspoc-proxy/nginx.conf -e stderr
exec nginx -c /tmp/anaspoc-proxy/nginx.conf -e stderr -g 'daemon off;'
