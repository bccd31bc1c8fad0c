package e2e

import (
	"encoding/json"
	"strconv"
	"time"
)

// apiTimes are the time fields that `bosun inspect -o json` prints as RFC
// 3339 times, named without the API's _unix_nano suffix.
var apiTimes = map[string]bool{"created": true, "started": true, "finished": true, "backoff_until": true,
	"deadline": true, "since": true, "last": true, "time": true}

// protoTimes gives `bosun inspect -o json` output back its API field names
// and Unix nanoseconds, for protojson to decode; input that does not decode
// is returned as it is, for protojson to report.
func protoTimes(out []byte) []byte {
	var v any
	if err := json.Unmarshal(out, &v); err != nil {
		return out
	}
	b, err := json.Marshal(unreadableTimes(v))
	if err != nil {
		return out
	}
	return b
}

func unreadableTimes(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, x := range v {
			if s, ok := x.(string); ok && apiTimes[k] {
				if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
					out[k+"_unix_nano"] = strconv.FormatInt(t.UnixNano(), 10)
					continue
				}
			}
			out[k] = unreadableTimes(x)
		}
		return out
	case []any:
		for i := range v {
			v[i] = unreadableTimes(v[i])
		}
	}
	return v
}
