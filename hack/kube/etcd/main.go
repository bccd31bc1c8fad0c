// Command etcd is etcd's server built from the Go module proxy for bosun's
// control-plane test (hack/kube/build.sh); it is etcd's own main.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
