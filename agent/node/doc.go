// Package node registers this node's Node object and keeps its status and
// its Lease in kube-node-lease, as the kubelet does: the kubelet's labels,
// addresses, capacity, nodeInfo and a Ready condition that follows the sync
// loop's readiness, patched on change and at least every
// StatusReportFrequency, and the Lease renewed by component-helpers' lease
// controller with the Node as its owner.
//
// The Node reports a capacity and allocatable of zero pods, so that the
// scheduler places nothing on it: bosun runs only its manifests. It reports
// no eviction conditions (bosun evicts nothing) and kubelet endpoint port 0
// (bosun serves no kubelet API).
//
// It reads the sync loop through Runtime and the machine through small
// bounded readers of /proc, /sys and /etc; it never calls the CRI, and it
// never gates the loop: the API server being down is a normal state that it
// retries with backoff. It touches only its own Node and Lease, what
// NodeRestriction lets a node do.
package node
