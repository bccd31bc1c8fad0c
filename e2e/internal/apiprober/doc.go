// Package apiprober stands for the clients of a highly available control
// plane, the kubelets, controllers and kubectl users that keep writing and
// reading objects through the control-plane endpoint while its apiservers
// fail over. A Prober writes a ConfigMap and reads it back every interval
// and records each round, so a test can tell how long an outage lasted and
// whether every acknowledged write survived it.
//
// The package talks HTTPS with kubeadm's admin.conf credentials on a fresh
// connection per request. It writes only ConfigMaps labelled
// bosun.dev/ha-probe and never deletes anything.
package apiprober
