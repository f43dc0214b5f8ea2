// Package examples holds runnable examples of the camfleet Go client. They call a live
// control plane: set CAMFLEET_TARGET (host:port) and CAMFLEET_PASSWORD (the admin's), and
// for the refresh test CAMFLEET_SHORT_TARGET (a control plane whose access tokens live a few
// seconds, same admin password), then run `go test camfleet.io/go/examples`.
package examples
