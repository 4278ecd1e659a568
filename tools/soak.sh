#!/usr/bin/env bash
# Soak: a release build under mixed load for a while, then the checks a long run must pass (no
# 5xx, memory flat after warm-up, audit chain valid, every upload searchable). Loopback only.
#   tools/soak.sh [SECONDS] [extra `anaspoc soak` options, e.g. --clients 8 --rate 200]
# Needs what the server needs for ingest: bubblewrap, poppler-utils, tesseract (see README).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-1800}"
shift || true
cargo build --release --quiet
exec target/release/anaspoc soak --seconds "$seconds" "$@"
