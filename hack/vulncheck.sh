#!/usr/bin/env bash
# make vulncheck: govulncheck against a vulnerability database built here,
# offline, from the golang.org/x/vulndb module (its data/osv and cmd/indexdb),
# so nothing but the Go module proxy is needed. Both are pinned below and
# cached under bin/ by version; bump VULNDB to take newer advisories.
set -euo pipefail
export GOTOOLCHAIN=${GOTOOLCHAIN:-go1.27.3}
cd "$(dirname "$0")/.."
VULNDB=v0.0.0-20261105234957-e22db6528018
GOVULNCHECK=v1.9.0
tools="$PWD/bin/tools"
db="$PWD/bin/vulndb-$VULNDB"

if [ ! -x "$tools/govulncheck-$GOVULNCHECK" ]; then
	GOBIN="$tools" go install "golang.org/x/vuln/cmd/govulncheck@$GOVULNCHECK"
	mv "$tools/govulncheck" "$tools/govulncheck-$GOVULNCHECK"
fi
if [ ! -f "$db/index/db.json" ]; then
	if [ ! -x "$tools/indexdb-$VULNDB" ]; then
		GOBIN="$tools" go install "golang.org/x/vulndb/cmd/indexdb@$VULNDB"
		mv "$tools/indexdb" "$tools/indexdb-$VULNDB"
	fi
	src=$(go mod download -json "golang.org/x/vulndb@$VULNDB" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
	rm -rf "$db.tmp"
	"$tools/indexdb-$VULNDB" -vulns "$src/data/osv" -out "$db.tmp"
	mv "$db.tmp" "$db"
fi
echo "govulncheck $GOVULNCHECK, database golang.org/x/vulndb@$VULNDB, $(go env GOVERSION)"
"$tools/govulncheck-$GOVULNCHECK" -db "file://$db" ./...
