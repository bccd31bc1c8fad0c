#!/usr/bin/env bash
# make demo: install what is missing, start a private containerd, build bosun,
# import the local images and run bosun on the manifests of examples/.
#   hack/demo.sh        start (or restart) the demo and show the pod running
#   hack/demo.sh stop   stop bosun, the demo's pods and its containerd
set -euo pipefail
export GOTOOLCHAIN=${GOTOOLCHAIN:-go1.27.3}
cd "$(dirname "$0")/.."
DEMO=${BOSUN_DEMO_DIR:-/var/tmp/bosun-demo}
SOCK="$DEMO/containerd/containerd.sock"

API_SOCK=/run/bosun/bosun.sock

stop() {
	if [ -f "$DEMO/bosun.pid" ]; then
		local pid
		pid=$(cat "$DEMO/bosun.pid")
		# SIGTERM: bosun removes its API socket as it exits; wait for that.
		kill "$pid" 2>/dev/null || true
		for _ in $(seq 1 100); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		if kill -0 "$pid" 2>/dev/null; then
			kill -9 "$pid" 2>/dev/null || true
		fi
		rm -f "$DEMO/bosun.pid"
		# A bosun that was killed leaves its socket behind: remove it when
		# no bosun answers there.
		if [ -S "$API_SOCK" ] && ! bin/bosun ps --api-socket "$API_SOCK" >/dev/null 2>&1; then
			rm -f "$API_SOCK"
		fi
	fi
	hack/containerd.sh stop "$DEMO/containerd"
	echo "demo stopped ($DEMO kept: logs and state)"
}

if [ "${1:-}" = stop ]; then
	stop
	exit 0
fi
if [ "$(id -u)" != 0 ]; then
	echo "make demo runs containers: run it as root" >&2
	exit 1
fi
[ -f "$DEMO/bosun.pid" ] && stop >/dev/null 2>&1 || true

hack/containerd.sh install
mkdir -p "$DEMO"
hack/containerd.sh start "$DEMO/containerd"
make --no-print-directory build
# hack is a Go module of its own; the tool runs from the checkout's top.
go -C hack build -o "$DEMO/images" ./images
"$DEMO/images" --address "$SOCK"

# bosun refuses manifests that others can write: give it its own copy.
install -d -m 0700 "$DEMO/manifests"
install -m 0600 examples/*.yaml "$DEMO/manifests/"
setsid bin/bosun run \
	--pod-manifest-path "$DEMO/manifests" \
	--container-runtime-endpoint "unix://$SOCK" \
	--root-dir "$DEMO/root" \
	--pod-logs-dir "$DEMO/logs" \
	--container-log-links-dir "$DEMO/containers" \
	--hostname-override demo \
	--api-socket "$API_SOCK" \
	>"$DEMO/bosun.log" 2>&1 </dev/null &
echo $! >"$DEMO/bosun.pid"

for _ in $(seq 1 100); do
	if page=$(curl -fsS --max-time 1 http://127.0.0.1:18080/ 2>/dev/null); then
		echo
		echo "bosun runs the static pod of examples/hello.yaml:"
		echo "  \$ curl http://127.0.0.1:18080/"
		echo "  $page"
		echo
		echo "  \$ bin/bosun ps"
		bin/bosun ps | sed 's/^/  /'
		echo
		echo "bosun's log ($DEMO/bosun.log):"
		sed 's/^/  /' "$DEMO/bosun.log"
		echo
		echo "more: bin/bosun inspect hello, bin/bosun logs hello -f, bin/bosun events -f, curl 127.0.0.1:10290/metrics"
		echo "container logs: $DEMO/logs"
		echo "manifests:      $DEMO/manifests (edit, add or delete files and watch bosun follow)"
		echo "stop the demo:  make demo-stop"
		exit 0
	fi
	if ! kill -0 "$(cat "$DEMO/bosun.pid")" 2>/dev/null; then
		echo "bosun exited:" >&2
		cat "$DEMO/bosun.log" >&2
		exit 1
	fi
	sleep 0.1
done
echo "the pod did not answer within 10s; bosun's log:" >&2
cat "$DEMO/bosun.log" >&2
exit 1
