package kafka

// ApiVersions (key 18): v0–v4. v5 (KIP-1242: the client names the cluster
// and node it expects, REBOOTSTRAP_REQUIRED on a mismatch) waits for
// cluster identity; kmsg v1.15 defines it.
//
// Behaviour:
//   - The key list is computed from the Registry: a key is advertised
//     exactly when a key file registered it, with its registered range.
//   - A version above ours is answered the way Kafka answers it (KIP-511):
//     the body is not decoded, and a v0 response carries
//     UNSUPPORTED_VERSION (35) and only the ApiVersions range, so the
//     client retries at our maximum. The connection layer dispatches such
//     a request undecoded (see conn.go).
//   - v3+: ClientSoftwareName and ClientSoftwareVersion must match
//     [a-zA-Z0-9](?:[a-zA-Z0-9\-.]*[a-zA-Z0-9])?, else INVALID_REQUEST (42)
//     with the key list, as Kafka does.
//   - Features (KIP-584) are not advertised yet.
//
// Version notes: v1 ThrottleMillis; v3 flexible, client software name and
// version, features; v4 no change on the broker side.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

const (
	apiVersionsKey = 18
	apiVersionsMax = 4
)

func (r *Registry) apiVersionsAPI() API {
	return API{
		Key:        apiVersionsKey,
		MinVersion: 0,
		MaxVersion: apiVersionsMax,
		Handle: func(_ context.Context, req *Request) (kmsg.Response, error) {
			return r.apiVersions(req.Msg.(*kmsg.ApiVersionsRequest)), nil
		},
	}
}

// apiVersions builds the response to req; pure.
func (r *Registry) apiVersions(req *kmsg.ApiVersionsRequest) *kmsg.ApiVersionsResponse {
	resp := req.ResponseKind().(*kmsg.ApiVersionsResponse)
	self := r.apis[apiVersionsKey]
	if req.Version > self.MaxVersion {
		resp.Version = 0
		resp.ErrorCode = kerr.UnsupportedVersion.Code
		k := kmsg.NewApiVersionsResponseApiKey()
		k.ApiKey, k.MinVersion, k.MaxVersion = apiVersionsKey, self.MinVersion, self.MaxVersion
		resp.ApiKeys = []kmsg.ApiVersionsResponseApiKey{k}
		return resp
	}
	if req.Version >= 3 && (!validSoftwareToken(req.ClientSoftwareName) || !validSoftwareToken(req.ClientSoftwareVersion)) {
		resp.ErrorCode = kerr.InvalidRequest.Code
	}
	resp.ApiKeys = r.Versions()
	return resp
}

// validSoftwareToken matches Kafka's pattern for client software names and
// versions: alphanumeric ends, dashes and dots allowed inside.
func validSoftwareToken(s string) bool {
	alnum := func(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' }
	if s == "" || !alnum(s[0]) || !alnum(s[len(s)-1]) {
		return false
	}
	for i := 1; i < len(s)-1; i++ {
		if c := s[i]; !alnum(c) && c != '-' && c != '.' {
			return false
		}
	}
	return true
}
