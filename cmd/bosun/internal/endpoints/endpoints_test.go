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
