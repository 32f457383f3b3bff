#!/usr/bin/env bash
# Fails when src/gen/ does not match what `npm run gen` makes from the protos now
# (ts-proto output and the descriptor set served by reflection) and from src/redis/lua/
# (lua.ts, the scripts the Redis storages send).
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
sed "s#out: src/gen#out: $tmp/gen#" buf.gen.yaml >"$tmp/buf.gen.yaml"
./node_modules/.bin/buf generate --template "$tmp/buf.gen.yaml"
scripts/gen-descriptors.sh "$tmp/gen"
node scripts/gen-lua.mjs "$tmp/gen"
if ! diff -r "$tmp/gen" src/gen >/dev/null; then
  echo "src/gen/ is stale: run 'npm run gen' and commit the result" >&2
  diff -r "$tmp/gen" src/gen | cut -c1-200 | head -20 >&2
  exit 1
fi
echo "src/gen/ matches proto/ and src/redis/lua/"
