// Package kubeletconfig reads the fields of a KubeletConfiguration file
// (kubelet.config.k8s.io/v1beta1) that bosun honours, so an existing kubelet
// config works with `bosun run --config`. Other fields are ignored.
package kubeletconfig

import (
	"fmt"
	"os"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
	"sigs.k8s.io/yaml"
)

// Config holds the honoured fields; zero values mean "not set".
type Config struct {
	StaticPodPath            string
	ContainerRuntimeEndpoint string
	PodLogsDir               string
	FileCheckFrequency       time.Duration
	SyncFrequency            time.Duration
	ContainerLogMaxSize      int64
	ContainerLogMaxFiles     int
	CgroupDriver             string
	ResolvConf               string
}

type file struct {
	APIVersion               string `json:"apiVersion"`
	Kind                     string `json:"kind"`
	StaticPodPath            string `json:"staticPodPath"`
	ContainerRuntimeEndpoint string `json:"containerRuntimeEndpoint"`
	PodLogsDir               string `json:"podLogsDir"`
	FileCheckFrequency       string `json:"fileCheckFrequency"`
	SyncFrequency            string `json:"syncFrequency"`
	ContainerLogMaxSize      string `json:"containerLogMaxSize"`
	ContainerLogMaxFiles     int    `json:"containerLogMaxFiles"`
	CgroupDriver             string `json:"cgroupDriver"`
	ResolvConf               string `json:"resolvConf"`
}

// Load reads path. Errors name the file and the field.
func Load(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("config %s: %w", path, err)
	}
	var f file
	if err := yaml.Unmarshal(data, &f); err != nil {
		return Config{}, fmt.Errorf("config %s: %w", path, err)
	}
	if f.Kind != "KubeletConfiguration" || f.APIVersion != "kubelet.config.k8s.io/v1beta1" {
		return Config{}, fmt.Errorf("config %s: want kind KubeletConfiguration of apiVersion kubelet.config.k8s.io/v1beta1, got %q %q", path, f.Kind, f.APIVersion)
	}
	c := Config{StaticPodPath: f.StaticPodPath, ContainerRuntimeEndpoint: f.ContainerRuntimeEndpoint, PodLogsDir: f.PodLogsDir,
		ContainerLogMaxFiles: f.ContainerLogMaxFiles, CgroupDriver: f.CgroupDriver, ResolvConf: f.ResolvConf}
	for _, d := range []struct {
		field string
		in    string
		out   *time.Duration
	}{{"fileCheckFrequency", f.FileCheckFrequency, &c.FileCheckFrequency}, {"syncFrequency", f.SyncFrequency, &c.SyncFrequency}} {
		if d.in == "" {
			continue
		}
		v, err := time.ParseDuration(d.in)
		if err != nil || v <= 0 {
			return Config{}, fmt.Errorf("config %s: %s: %q is not a positive duration", path, d.field, d.in)
		}
		*d.out = v
	}
	if f.ContainerLogMaxSize != "" {
		q, err := resource.ParseQuantity(f.ContainerLogMaxSize)
		if err != nil || q.Sign() <= 0 {
			return Config{}, fmt.Errorf("config %s: containerLogMaxSize: %q is not a positive quantity", path, f.ContainerLogMaxSize)
		}
		c.ContainerLogMaxSize = q.Value()
	}
	if c.ContainerLogMaxFiles < 0 {
		return Config{}, fmt.Errorf("config %s: containerLogMaxFiles: must be >= 0", path)
	}
	return c, nil
}
