// Package podcgroup gives a pod's cgroup the kubelet's pod-level limits: the
// CRI has no call that configures a pod cgroup (RunPodSandbox only names it
// as the parent of the containers' cgroups), so bosun creates and writes it
// itself before the sandbox runs, and removes it once the sandbox is gone.
// Only the cgroupfs driver is handled: with the systemd driver the pod
// cgroup is a slice that only systemd may configure.
package podcgroup
