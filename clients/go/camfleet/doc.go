// Package camfleet is a small client for the camfleet control plane's gRPC API.
//
// Dial connects (plain gRPC to a loopback address, TLS elsewhere), Login starts a password
// session that an interceptor refreshes silently before its access token expires (and once
// more if the server says it has), UseAPIToken authenticates with an API token instead, and
// every failed call returns an *Error whose message is one sentence built from the server's
// google.rpc details (ErrorInfo, BadRequest field violations, RetryInfo):
//
//	client, err := camfleet.Dial(ctx, "127.0.0.1:50051")
//	_, err = client.Login(ctx, "admin", password)
//	resp, err := client.Cameras.ListCameras(ctx, &camfleetv1.ListCamerasRequest{})
//
// The generated stubs and messages are in camfleet.io/go/camfleetv1.
package camfleet
