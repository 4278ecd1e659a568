#!/bin/sh
# One-shot: the documents bucket, a policy that reaches only that bucket, and the platform's own
# access key with only that policy (the root credentials never leave this container and MinIO).
set -eu
mc alias set local http://minio:9000 "$MINIO_ROOT_USER" "$MINIO_ROOT_PASSWORD"
mc mb --ignore-existing local/anaspoc-documents
mc version enable local/anaspoc-documents
mc admin policy create local anaspoc-documents /etc/anaspoc/minio/anaspoc-policy.json
mc admin user add local "$ANASPOC_S3_ACCESS_KEY" "$ANASPOC_S3_SECRET_KEY"
if ! mc admin user info local "$ANASPOC_S3_ACCESS_KEY" | grep -q "anaspoc-documents"; then
  mc admin policy attach local anaspoc-documents --user "$ANASPOC_S3_ACCESS_KEY"
fi
