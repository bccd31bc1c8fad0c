// Package certs owns this node's client credentials toward the API server: the kubelet's TLS bootstrap
// (a CSR signed by kubernetes.io/kube-apiserver-client-kubelet, kubelet-client-current.pem in the cert
// dir and a kubeconfig that points at it), client-certificate rotation through client-go's certificate
// Manager, and the check at start that the credentials are system:node:<node>.
//
// It writes only under the cert dir and the kubeconfig it is given, follows no link there that
// client-go's FileStore did not write, and never talks to the CRI or gates the sync loop.
package certs
