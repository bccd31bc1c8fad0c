// Package frontdoor plays the control-plane endpoint of a highly available
// kubeadm cluster from inside a test process: the virtual IP that
// keepalived (or kube-vip) moves between control-plane nodes, announced with
// gratuitous ARP, and the TCP load balancer that haproxy runs on each node in
// front of the apiservers, with its health checks on /readyz.
//
// A Door holds the VIP in one network namespace at a time. It owns the VIP
// address on the holder's interface, the listener on VIP:Port inside that
// namespace and the health checks of the backends; it must not touch any
// other address, route or interface, and it never sends a connection to an
// address that is not one of its backends.
package frontdoor
