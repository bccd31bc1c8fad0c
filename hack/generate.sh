#!/usr/bin/env bash
# Generates proto/bosun/v1 from its .proto with protoc (Debian's
# protobuf-compiler) and the Go plugins pinned in hack/tools/go.mod.
#   hack/generate.sh          write the generated code into proto/
#   hack/generate.sh verify   fail if the committed code is not current
set -euo pipefail
export GOTOOLCHAIN=${GOTOOLCHAIN:-go1.27.3}
cd "$(dirname "$0")/.."
if ! command -v protoc >/dev/null; then
	DEBIAN_FRONTEND=noninteractive apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq protobuf-compiler >/dev/null
fi
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
(cd hack/tools && GOBIN="$bin" go install google.golang.org/protobuf/cmd/protoc-gen-go google.golang.org/grpc/cmd/protoc-gen-go-grpc)
out=proto
if [ "${1:-}" = verify ]; then
	out="$bin/out"
	mkdir -p "$out"
fi
PATH="$bin:$PATH" protoc -I proto \
	--go_out="$out" --go_opt=paths=source_relative \
	--go-grpc_out="$out" --go-grpc_opt=paths=source_relative \
	proto/bosun/v1/bosun.proto
if [ "${1:-}" = verify ]; then
	for f in bosun.pb.go bosun_grpc.pb.go; do
		diff -u "proto/bosun/v1/$f" "$out/bosun/v1/$f" || { echo "proto/bosun/v1/$f is not current: run make generate" >&2; exit 1; }
	done
	echo "proto/ is current"
fi
