package kubeletconfig

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestLoadNodeFields(t *testing.T) {
	yes, no := true, false
	c, err := Load(write(t, header+`podPidsLimit: 4096
cpuCFSQuota: false
cpuCFSQuotaPeriod: 50ms
serializeImagePulls: false
maxParallelImagePulls: 3
runtimeRequestTimeout: 5m
imageServiceEndpoint: unix:///run/containerd/containerd.sock
seccompDefault: true
allowedUnsafeSysctls: [net.core.somaxconn, "kernel.msg*"]
`))
	if err != nil {
		t.Fatal(err)
	}
	want := Config{PodPidsLimit: 4096, CPUCFSQuota: &no, CPUCFSQuotaPeriod: 50 * time.Millisecond, SerializeImagePulls: &no,
		MaxParallelImagePulls: 3, RuntimeRequestTimeout: 5 * time.Minute, ImageServiceEndpoint: "unix:///run/containerd/containerd.sock",
		SeccompDefault: &yes, AllowedUnsafeSysctls: []string{"net.core.somaxconn", "kernel.msg*"}}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("got  %+v\nwant %+v", c, want)
	}
	// The kubelet's -1 is no limit, as bosun's 0.
	if c, err := Load(write(t, header+"podPidsLimit: -1\n")); err != nil || c.PodPidsLimit != 0 || len(c.Ignored) != 0 {
		t.Errorf("podPidsLimit -1: %+v, %v", c, err)
	}
}

func TestLoadNodeFieldErrors(t *testing.T) {
	for body, want := range map[string]string{
		header + "podPidsLimit: -5\n":                                    "podPidsLimit: -5: must be a number of processes",
		header + "cpuCFSQuota: maybe\n":                                  "cpuCFSQuota: want true or false",
		header + "cpuCFSQuotaPeriod: 2s\n":                               "cpuCFSQuotaPeriod: 2s is not between 1ms and 1s",
		header + "serializeImagePulls: true\nmaxParallelImagePulls: 4\n": "maxParallelImagePulls: 4 needs serializeImagePulls false",
		header + "runtimeRequestTimeout: soon\n":                         `runtimeRequestTimeout: "soon" is not a duration`,
		header + "allowedUnsafeSysctls: net.core.somaxconn\n":            "allowedUnsafeSysctls: want a list",
	} {
		p := write(t, body)
		if _, err := Load(p); err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), p) {
			t.Errorf("%q: %v, want %q naming the file", body, err, want)
		}
	}
}
