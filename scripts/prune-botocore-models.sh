#!/usr/bin/env bash
# Delete the API models of the AWS services Taskyard never calls from a venv's botocore.
#
#   scripts/prune-botocore-models.sh /app/.venv
#
# botocore ships models for ~450 services (about 25 MB); the S3 backend
# (libs/common/.../storage/s3.py) calls s3, and botocore's credential chain calls
# sts (web identity: IRSA, AssumeRole profiles) and sso/sso-oidc (SSO profiles).
# Container (EKS Pod Identity, ECS) and instance-metadata credentials need no model.
# The image builds run this after `uv sync`; it then loads every kept model and
# builds an S3 client, so a botocore that needs more fails the build, not a pod.
set -euo pipefail

venv="${1:?usage: $0 <venv>}"
keep=(s3 sts sso sso-oidc)

data="$(echo "$venv"/lib/python3*/site-packages/botocore/data)"
[[ -d "$data" ]] || { echo "no botocore in $venv" >&2; exit 1; }

before="$(du -sk "$data" | cut -f1)"
find_args=()
for service in "${keep[@]}"; do
  find_args+=(! -name "$service")
done
find "$data" -mindepth 1 -maxdepth 1 -type d "${find_args[@]}" -exec rm -rf {} +
after="$(du -sk "$data" | cut -f1)"

"$venv/bin/python" - "${keep[@]}" <<'PY'
import sys

import botocore.session

session = botocore.session.get_session()
for service in sys.argv[1:]:
    session.get_service_model(service)
session.create_client(
    "s3", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x"
)
PY
echo "botocore models: $((before / 1024)) MiB -> $((after / 1024)) MiB (kept: ${keep[*]})"
