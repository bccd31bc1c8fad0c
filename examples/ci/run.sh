#!/usr/bin/env bash
# A CI workflow for static pods, as a plain script that any CI can run as
# root on a Debian machine (in GitHub Actions: `run: sudo examples/ci/run.sh`):
#   1. install containerd and start a private one (hack/containerd.sh),
#   2. build bosun and import the test images,
#   3. apply the pods of examples/ci/pods (a database and a web service) and
#      start bosun in the background on them, as a service would,
#   4. bosun wait --all --for=ready, then check the web pod on 127.0.0.1,
#   5. tear everything down, whatever happened (trap).
# It exits 0 when every pod is ready and the check passes, else 1; when a pod
# is not ready in time, bosun wait has printed its state, its events and the
# end of its log.
#
# Environment (all optional):
#   BOSUN_CI_DIR        work directory (default: a new one under /tmp, removed at the end)
#   CONTAINERD_ADDRESS  socket of a running containerd to use instead of installing
#                       and starting a private one (its CRI must have the pause image)
#   BOSUN_BIN           a bosun binary to use instead of building one
#   IMPORT_IMAGES       0: do not import the test images (they are there already)
#   PODS_DIR            the pods to apply (default: examples/ci/pods)
#   DB_PORT, WEB_PORT   the pods' ports on 127.0.0.1 (default 15432 and 18088; the
#                       pods' files are written with them)
#   BOSUN_NODE          node name, the suffix of the pods' names (default: ci)
#   WAIT_TIMEOUT        how long bosun wait waits (default: 2m)
set -euo pipefail
export GOTOOLCHAIN=${GOTOOLCHAIN:-go1.27.3}
cd "$(dirname "$0")/../.."

PODS_DIR=${PODS_DIR:-examples/ci/pods}
DB_PORT=${DB_PORT:-15432}
WEB_PORT=${WEB_PORT:-18088}
BOSUN_NODE=${BOSUN_NODE:-ci}
WAIT_TIMEOUT=${WAIT_TIMEOUT:-2m}
own_work=
if [ -z "${BOSUN_CI_DIR:-}" ]; then
	BOSUN_CI_DIR=$(mktemp -d /tmp/bosun-ci.XXXXXX)
	own_work=1
fi
WORK=$(mkdir -p "$BOSUN_CI_DIR" && cd "$BOSUN_CI_DIR" && pwd)
API="$WORK/run/bosun.sock"
own_containerd=
bosun_pid=

step() { echo "==> $*"; }

teardown() {
	local rc=$?
	set +e
	step "tear down"
	if [ -n "$bosun_pid" ]; then
		# Removing the manifests stops and removes the pods; then bosun goes.
		rm -f "$WORK/manifests/"*
		"$BOSUN" wait --api-socket "$API" --all --for=deleted --timeout 30s >/dev/null ||
			echo "some pods were not removed within 30s" >&2
		kill "$bosun_pid" 2>/dev/null
		for _ in $(seq 1 100); do
			kill -0 "$bosun_pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -9 "$bosun_pid" 2>/dev/null
		if [ "$rc" != 0 ]; then
			echo "--- bosun's log, last 30 lines ($WORK/bosun.log)"
			tail -30 "$WORK/bosun.log"
		fi
	fi
	[ -n "$own_containerd" ] && hack/containerd.sh stop "$WORK/containerd"
	[ -n "$own_work" ] && rm -rf --one-file-system "$WORK"
	if [ "$rc" = 0 ]; then
		echo "PASS"
	else
		echo "FAIL (exit $rc)"
	fi
	exit "$rc"
}
trap teardown EXIT
trap 'exit 130' INT TERM

if [ "$(id -u)" != 0 ]; then
	echo "run.sh runs containers: run it as root" >&2
	exit 1
fi

SOCK=${CONTAINERD_ADDRESS:-}
if [ -z "$SOCK" ]; then
	step "install and start containerd"
	hack/containerd.sh install
	own_containerd=1
	hack/containerd.sh start "$WORK/containerd"
	SOCK="$WORK/containerd/containerd.sock"
fi

BOSUN=${BOSUN_BIN:-}
if [ -z "$BOSUN" ]; then
	step "build bosun"
	go build -o "$WORK/bosun" ./cmd/bosun
	BOSUN="$WORK/bosun"
fi

if [ "${IMPORT_IMAGES:-1}" != 0 ]; then
	step "import the test images"
	go run ./hack/images --address "$SOCK"
fi

step "apply the pods of $PODS_DIR (db on 127.0.0.1:$DB_PORT, web on 127.0.0.1:$WEB_PORT)"
# bosun refuses manifests that others can write: 0700 directory, 0600 files.
install -d -m 0700 "$WORK/manifests"
for f in "$PODS_DIR"/*.yaml; do
	sed -e "s/15432/$DB_PORT/g" -e "s/18088/$WEB_PORT/g" "$f" >"$WORK/manifests/$(basename "$f")"
	chmod 0600 "$WORK/manifests/$(basename "$f")"
done
"$BOSUN" validate "$WORK/manifests"

step "start bosun"
setsid "$BOSUN" run \
	--pod-manifest-path "$WORK/manifests" \
	--container-runtime-endpoint "unix://$SOCK" \
	--hostname-override "$BOSUN_NODE" \
	--root-dir "$WORK/root" \
	--pod-logs-dir "$WORK/logs" \
	--container-log-links-dir "$WORK/containers" \
	--api-socket "$API" \
	--healthz-bind-address 127.0.0.1:0 \
	--metrics-bind-address 127.0.0.1:0 \
	--node-ip 127.0.0.1 \
	>"$WORK/bosun.log" 2>&1 </dev/null &
bosun_pid=$!
for _ in $(seq 1 300); do
	"$BOSUN" ps --api-socket "$API" >/dev/null 2>&1 && break
	if ! kill -0 "$bosun_pid" 2>/dev/null; then
		echo "bosun exited" >&2
		exit 1
	fi
	sleep 0.1
done

step "bosun wait --all --for=ready --timeout $WAIT_TIMEOUT"
"$BOSUN" wait --api-socket "$API" --all --for=ready --timeout "$WAIT_TIMEOUT"
"$BOSUN" ps --api-socket "$API"

step "check http://127.0.0.1:$WEB_PORT/"
if command -v curl >/dev/null; then
	page=$(curl -fsS --max-time 5 "http://127.0.0.1:$WEB_PORT/")
else
	page=$(busybox wget -qO- -T 5 "http://127.0.0.1:$WEB_PORT/")
fi
echo "check: $page"
case "$page" in
*"the database has 3 rows"*) ;;
*)
	echo "check: the web pod did not answer with the database's rows" >&2
	exit 1
	;;
esac
