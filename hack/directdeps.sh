#!/usr/bin/env bash
# make verify: every direct requirement of bosun's go.mod is linked into the
# bosun binary (test and build helpers live in the hack and e2e modules).
set -euo pipefail
cd "$(dirname "$0")/.."
linked=$(go list -deps -f '{{with .Module}}{{.Path}}{{end}}' ./cmd/bosun | sort -u)
bad=0
for m in $(go list -m -f '{{if not .Indirect}}{{if not .Main}}{{.Path}}{{end}}{{end}}' all); do
	if ! grep -qxF "$m" <<<"$linked"; then
		echo "go.mod: $m is a direct requirement but not in the bosun binary (move its user to hack/ or e2e/)" >&2
		bad=1
	fi
done
exit $bad
