package agent

// Temporary: holds the API side's dependencies in go.mod while its packages
// are written. Removed once they import them.
import (
	_ "k8s.io/client-go/kubernetes"
	_ "k8s.io/client-go/kubernetes/fake"
	_ "k8s.io/client-go/tools/clientcmd"
	_ "k8s.io/client-go/tools/record"
	_ "k8s.io/client-go/util/certificate"
	_ "k8s.io/client-go/util/certificate/csr"
	_ "k8s.io/client-go/util/keyutil"
	_ "k8s.io/component-helpers/apimachinery/lease"
	_ "k8s.io/kubelet/pkg/apis"
)
