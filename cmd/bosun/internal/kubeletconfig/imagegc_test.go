package kubeletconfig

import (
	"strings"
	"testing"
	"time"
)

func TestLoadImageGCFields(t *testing.T) {
	c, err := Load(write(t, header+`imageGCHighThresholdPercent: 90
imageGCLowThresholdPercent: 0
imageMinimumGCAge: 5m
imageMaximumGCAge: 168h
`))
	if err != nil {
		t.Fatal(err)
	}
	if c.ImageGCHighThresholdPercent == nil || *c.ImageGCHighThresholdPercent != 90 ||
		c.ImageGCLowThresholdPercent == nil || *c.ImageGCLowThresholdPercent != 0 ||
		c.ImageMinimumGCAge != 5*time.Minute || c.ImageMaximumGCAge != 168*time.Hour || len(c.Ignored) != 0 {
		t.Errorf("got %+v", c)
	}
	c, err = Load(write(t, header+"imageMinimumGCAge: 0s\nimageMaximumGCAge: 0s\n"))
	if err != nil || c.ImageGCHighThresholdPercent != nil || c.ImageMinimumGCAge != 0 || len(c.Ignored) != 0 {
		t.Errorf("kubeadm's zero values: %+v, %v", c, err)
	}
	for body, want := range map[string]string{
		"imageGCHighThresholdPercent: 101\n": "imageGCHighThresholdPercent: 101 is not a percentage",
		"imageGCLowThresholdPercent: high\n": "imageGCLowThresholdPercent: want a percentage",
		"imageMaximumGCAge: forever\n":       `imageMaximumGCAge: "forever" is not a duration`,
	} {
		if _, err := Load(write(t, header+body)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", body, err, want)
		}
	}
}
