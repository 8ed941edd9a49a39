#!/usr/bin/env bash
# fetch-openapi-schema.sh BUILD_DIR: download the official OpenAPI 3.1 JSON Schema, edition
# 2026-08-03 (https://spec.openapis.org/oas/3.1/schema/2026-08-03, as shipped in the npm package
# @seriousme/openapi-schema-validator 2.11.0, MIT, checked against its published sha512 integrity)
# and write it to BUILD_DIR/openapi-3.1-schema.json, where test_openapi finds it. Not committed: a
# build artefact. Does nothing when that edition is already there.
set -euo pipefail
dir=${1:?usage: fetch-openapi-schema.sh BUILD_DIR}
out=$dir/openapi-3.1-schema.json
edition=https://spec.openapis.org/oas/3.1/schema/2026-08-03
[[ -s $out ]] && grep -qF "\"$edition\"" "$out" && exit 0
url=https://registry.npmjs.org/@seriousme/openapi-schema-validator/-/openapi-schema-validator-2.11.0.tgz
integrity=DL8TjmjkUS76OaK/TinoRtf6PrirsWfMZiv62ifP9eq3UOpoLqSGZKpCErxMzz0i1pjECSPYY+qZ1SRYEgiEvg==
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# The sha512 pin below is what makes the file trustworthy, not TLS: where a proxy re-signs TLS
# with a certificate this machine does not know, the download is retried without verifying it.
if ! curl -fsSL --retry 3 --max-time 60 -o "$tmp/p.tgz" "$url"; then
  echo "fetch-openapi-schema: retrying without TLS verification (the sha512 pin still applies)" >&2
  curl -fsSL --insecure --retry 3 --max-time 60 -o "$tmp/p.tgz" "$url"
fi
got=$(openssl dgst -sha512 -binary "$tmp/p.tgz" | base64 -w0)
if [[ $got != "$integrity" ]]; then
  echo "fetch-openapi-schema: integrity mismatch for $url" >&2
  exit 1
fi
tar -xzf "$tmp/p.tgz" -C "$tmp" package/schemas/v3.1/schema.json
if ! grep -qF "\"$edition\"" "$tmp/package/schemas/v3.1/schema.json"; then
  echo "fetch-openapi-schema: $url does not hold the $edition schema" >&2
  exit 1
fi
mkdir -p "$dir"
mv "$tmp/package/schemas/v3.1/schema.json" "$out.tmp"
mv "$out.tmp" "$out"
echo "fetch-openapi-schema: $out"
