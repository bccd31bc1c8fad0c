package endpoints

import "testing"

func TestLoopback(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:10290": true, "127.0.0.2:1": true, "[::1]:10290": true, "localhost:10290": true,
		":10290": false, "0.0.0.0:10290": false, "[::]:10290": false, "192.0.2.1:10290": false,
		"metrics.example:10290": false, "127.0.0.1": false,
	} {
		if got := Loopback(addr); got != want {
			t.Errorf("Loopback(%q) = %v, want %v", addr, got, want)
		}
	}
}

func TestImageRemovalsAreCountedWithTheirBytes(t *testing.T) {
	m := NewMetrics("test")
	m.ObserveImageRemoved("DiskPressure", 1000)
	m.ObserveImageRemoved("MaxAge", 24)
	families, err := m.registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, f := range families {
		for _, metric := range f.GetMetric() {
			name := f.GetName()
			for _, l := range metric.GetLabel() {
				name += " " + l.GetValue()
			}
			got[name] = metric.GetCounter().GetValue()
		}
	}
	for name, want := range map[string]float64{
		"bosun_images_removed_total DiskPressure": 1, "bosun_images_removed_total MaxAge": 1, "bosun_image_bytes_freed_total": 1024,
	} {
		if got[name] != want {
			t.Errorf("%s = %v, want %v", name, got[name], want)
		}
	}
}
