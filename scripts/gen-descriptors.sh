#!/usr/bin/env bash
# Writes OUT_DIR/descriptors.binpb: one FileDescriptorSet holding every file the server's
# reflection answers from (sessiond's protos with the well-known types they import, the
# health protocol, both reflection protocols). Built by `buf build`, which keeps file
# dependencies and fully-qualified names that strict clients (grpcurl, buf curl) need.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-src/gen}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
buf=./node_modules/.bin/buf
"$buf" build -o "$tmp/sessiond.binpb"
# grpc-health-check ships health.proto as health/v1/; serve it under its canonical name,
# grpc/health/v1/health.proto, as other gRPC servers do.
mkdir -p "$tmp/health/grpc/health/v1"
cp node_modules/grpc-health-check/proto/health/v1/health.proto "$tmp/health/grpc/health/v1/"
"$buf" build "$tmp/health" -o "$tmp/health.binpb"
"$buf" build src/server/proto -o "$tmp/reflection.binpb"
# Concatenated FileDescriptorSets are one FileDescriptorSet: the repeated `file` fields merge.
mkdir -p "$out"
cat "$tmp/sessiond.binpb" "$tmp/health.binpb" "$tmp/reflection.binpb" >"$out/descriptors.binpb"
