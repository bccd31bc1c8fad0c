#!/usr/bin/env bash
# Installs and runs a private containerd for bosun's demo and tests, as
# ../shared/CONTAINERD.md describes. Never touches a system containerd.
#
#   hack/containerd.sh install      install containerd, runc, CNI plugins, busybox (Debian)
#   hack/containerd.sh start DIR    start a private containerd in DIR (socket DIR/containerd.sock)
#   hack/containerd.sh restart DIR  restart only the daemon; containers keep running
#   hack/containerd.sh stop DIR     kill its containers, stop it, clean DIR's mounts
set -euo pipefail

PAUSE_IMAGE=${PAUSE_IMAGE:-registry.k8s.io/pause:3.10}
# CONTAINERD_BIN, if set, is a directory with another containerd (and its
# shim) to run instead of Debian's, e.g. a containerd 2.x built with go install.
if [ -n "${CONTAINERD_BIN:-}" ]; then
	export PATH="$CONTAINERD_BIN:$PATH"
fi

install() {
	local missing=()
	command -v containerd >/dev/null || missing+=(containerd)
	command -v runc >/dev/null || missing+=(runc)
	[ -x /usr/lib/cni/bridge ] || missing+=(containernetworking-plugins)
	[ -x /usr/bin/busybox ] || missing+=(busybox-static)
	command -v ip >/dev/null || missing+=(iproute2)
	command -v iptables >/dev/null || missing+=(iptables)
	command -v curl >/dev/null || missing+=(curl)
	if [ ${#missing[@]} -gt 0 ]; then
		echo "installing ${missing[*]}" >&2
		export DEBIAN_FRONTEND=noninteractive
		apt-get update -qq
		apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
	fi
	# Debian's package may start the system containerd; bosun's own never
	# uses it, and a stopped one cannot confuse anything.
}

start() {
	local dir=$1
	mkdir -p "$dir/root" "$dir/state" "$dir/cni"
	dir=$(cd "$dir" && pwd)
	if [ -S "$dir/containerd.sock" ] && ctr --address "$dir/containerd.sock" version >/dev/null 2>&1; then
		echo "containerd already running at $dir/containerd.sock" >&2
		return 0
	fi
	containerd config default >"$dir/config.toml.default"
	# containerd 1.x writes "key = \"value\"" (sandbox_image, bin_dir); 2.x
	# writes 'value' (pinned sandbox image, bin_dirs). Both are edited.
	sed -e 's|restrict_oom_score_adj = false|restrict_oom_score_adj = true|' \
		-e "s|sandbox_image = \".*\"|sandbox_image = \"$PAUSE_IMAGE\"|" \
		-e "s|sandbox = '.*'|sandbox = '$PAUSE_IMAGE'|" \
		-e 's|bin_dir = "/opt/cni/bin"|bin_dir = "/usr/lib/cni"|' \
		-e "s|bin_dirs = \['/opt/cni/bin'\]|bin_dirs = ['/usr/lib/cni']|" \
		-e "s|conf_dir = \"/etc/cni/net.d\"|conf_dir = \"$dir/cni\"|" \
		-e "s|conf_dir = '/etc/cni/net.d'|conf_dir = '$dir/cni'|" \
		-e 's|SystemdCgroup = true|SystemdCgroup = false|' \
		"$dir/config.toml.default" >"$dir/config.toml"
	# A second runc handler, runc-alt, for pods with runtimeClassName (e2e).
	local rt='plugins."io.containerd.grpc.v1.cri".containerd.runtimes'
	grep -qF "io.containerd.cri.v1.runtime" "$dir/config.toml" && rt="plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes"
	printf '\n[%s.runc-alt]\n  runtime_type = "io.containerd.runc.v2"\n' "$rt" >>"$dir/config.toml"
	for want in 'restrict_oom_score_adj = true' "$PAUSE_IMAGE" '/usr/lib/cni' "$dir/cni"; do
		grep -qF "$want" "$dir/config.toml" || { echo "containerd config: could not set $want" >&2; exit 1; }
	done
	cat >"$dir/cni/10-bosun-test.conflist" <<'JSON'
{"cniVersion":"1.0.0","name":"bosun-test","plugins":[
 {"type":"bridge","bridge":"bosun0","isGateway":true,"ipMasq":false,
  "ipam":{"type":"host-local","ranges":[[{"subnet":"10.88.7.0/24"}]],"routes":[{"dst":"0.0.0.0/0"}]}},
 {"type":"portmap","capabilities":{"portMappings":true}},{"type":"loopback"}]}
JSON
	setsid containerd --config "$dir/config.toml" --root "$dir/root" --state "$dir/state" \
		--address "$dir/containerd.sock" >>"$dir/containerd.log" 2>&1 </dev/null &
	echo $! >"$dir/containerd.pid"
	for _ in $(seq 1 300); do
		if [ -S "$dir/containerd.sock" ] && ctr --address "$dir/containerd.sock" version >/dev/null 2>&1; then
			echo "containerd $(containerd --version | awk '{print $3}') running at $dir/containerd.sock (log: $dir/containerd.log)" >&2
			return 0
		fi
		if ! kill -0 "$(cat "$dir/containerd.pid")" 2>/dev/null; then
			echo "containerd exited; its log:" >&2
			tail -50 "$dir/containerd.log" >&2
			exit 1
		fi
		sleep 0.1
	done
	echo "containerd did not answer within 30s; its log:" >&2
	tail -50 "$dir/containerd.log" >&2
	exit 1
}

# stop_daemon ends the containerd of DIR: SIGTERM, then SIGKILL after 10 s.
stop_daemon() {
	[ -f "$1/containerd.pid" ] || return 0
	local pid
	pid=$(cat "$1/containerd.pid")
	kill "$pid" 2>/dev/null || true
	for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	kill -9 "$pid" 2>/dev/null || true
}

stop() {
	local dir=$1
	[ -d "$dir" ] || return 0
	dir=$(cd "$dir" && pwd)
	local sock="$dir/containerd.sock"
	if [ -S "$sock" ] && ctr --address "$sock" version >/dev/null 2>&1; then
		# Kill every task (containers and sandboxes) so nothing outlives the test.
		for id in $(ctr --address "$sock" -n k8s.io tasks ls -q 2>/dev/null); do
			ctr --address "$sock" -n k8s.io tasks kill -s SIGKILL "$id" >/dev/null 2>&1 || true
		done
		for _ in $(seq 1 50); do
			[ -z "$(ctr --address "$sock" -n k8s.io tasks ls -q 2>/dev/null | head -1)" ] && break
			for id in $(ctr --address "$sock" -n k8s.io tasks ls -q 2>/dev/null); do
				ctr --address "$sock" -n k8s.io tasks rm -f "$id" >/dev/null 2>&1 || true
			done
			sleep 0.1
		done
	fi
	stop_daemon "$dir"
	rm -f "$dir/containerd.pid"
	pkill -9 -f -- "-address $sock" 2>/dev/null || true
	# Unmount what the runtime left below DIR, deepest first.
	{ grep -F " $dir/" /proc/mounts || true; } | awk '{print $2}' | sort -r | while read -r m; do
		umount -l "$m" 2>/dev/null || true
	done
}

# restart stops only the daemon (containers and shims keep running), as a
# package upgrade or a crash would, and starts it again.
restart() {
	local dir=$1
	dir=$(cd "$dir" && pwd)
	stop_daemon "$dir"
	start "$dir"
}

case "${1:-}" in
install) install ;;
restart) restart "${2:?usage: $0 restart DIR}" ;;
start) start "${2:?usage: $0 start DIR}" ;;
stop) stop "${2:?usage: $0 stop DIR}" ;;
*)
	echo "usage: $0 install | start DIR | restart DIR | stop DIR" >&2
	exit 2
	;;
esac
