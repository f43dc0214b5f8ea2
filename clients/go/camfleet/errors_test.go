package camfleet

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/golang/protobuf/ptypes/duration"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func statusError(t *testing.T, code codes.Code, msg string, details ...interface{}) error {
	t.Helper()
	st := status.New(code, msg)
	for _, d := range details {
		var err error
		switch d := d.(type) {
		case *errdetails.ErrorInfo:
			st, err = st.WithDetails(d)
		case *errdetails.BadRequest:
			st, err = st.WithDetails(d)
		case *errdetails.RetryInfo:
			st, err = st.WithDetails(d)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return st.Err()
}

func TestErrorNamesTheViolationsTheMessageLeavesOut(t *testing.T) {
	err := wrap(statusError(t, codes.InvalidArgument, "camera is invalid",
		&errdetails.ErrorInfo{Reason: "ERROR_REASON_INVALID_ARGUMENT", Domain: ErrorDomain},
		&errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{
			{Field: "camera.name", Description: "must not be empty"},
			{Field: "camera.source_url", Description: "must be rtsp:// or rtsps://"},
		}}))
	want := "invalid argument: camera is invalid (camera.name: must not be empty; " +
		"camera.source_url: must be rtsp:// or rtsps://)"
	if err.Error() != want {
		t.Fatalf("got %q, want %q", err.Error(), want)
	}
	var e *Error
	if !errors.As(fmt.Errorf("creating: %w", err), &e) {
		t.Fatal("errors.As does not find *Error")
	}
	if e.Reason != "INVALID_ARGUMENT" || e.Domain != ErrorDomain {
		t.Fatalf("reason %q domain %q", e.Reason, e.Domain)
	}
	if e.Field("camera.name") != "must not be empty" || e.Field("camera.id") != "" {
		t.Fatalf("violations %+v", e.Violations)
	}
	if status.Code(err) != codes.InvalidArgument {
		t.Fatalf("status.Code sees %v", status.Code(err))
	}
}

func TestErrorDoesNotRepeatAViolationTheMessageNames(t *testing.T) {
	err := wrap(statusError(t, codes.InvalidArgument, "name: must not be empty",
		&errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{
			{Field: "name", Description: "must not be empty"},
		}}))
	if got := err.Error(); got != "invalid argument: name: must not be empty" {
		t.Fatalf("got %q", got)
	}
}

func TestErrorSaysWhenToRetry(t *testing.T) {
	delay := &errdetails.RetryInfo{RetryDelay: &duration.Duration{Seconds: 2, Nanos: 500000000}}
	err := wrap(statusError(t, codes.ResourceExhausted, "the node's uplink is saturated", delay))
	if e := AsError(err); e.RetryDelay != 2500*time.Millisecond {
		t.Fatalf("retry delay %v", e.RetryDelay)
	}
	want := "resource exhausted: the node's uplink is saturated; retry in 2.5s"
	if err.Error() != want {
		t.Fatalf("got %q, want %q", err.Error(), want)
	}
	// The login limits already say when: not twice.
	err = wrap(statusError(t, codes.ResourceExhausted, "too many failed logins; try again in 3 s", delay))
	if got := err.Error(); got != "resource exhausted: too many failed logins; try again in 3 s" {
		t.Fatalf("got %q", got)
	}
}

func TestErrorWithoutDetailsOrMessage(t *testing.T) {
	if got := wrap(status.Error(codes.Unavailable, "")).Error(); got != "unavailable: the server gave no message" {
		t.Fatalf("got %q", got)
	}
	plain := errors.New("not a status")
	if wrap(plain) != plain || AsError(plain) != nil || wrap(nil) != nil {
		t.Fatal("a non-status error must pass through unchanged")
	}
}

func TestLoopbackTargetsAreRecognised(t *testing.T) {
	for target, want := range map[string]bool{
		"127.0.0.1:50051": true, "localhost:1": true, "[::1]:50051": true,
		"dns:///127.0.0.1:9": true, "cams.example.org:443": false, "10.0.0.1:50051": false,
	} {
		if got := isLoopback(hostOf(target)); got != want {
			t.Errorf("isLoopback(%q) = %v, want %v", target, got, want)
		}
	}
}

func TestAConnectionFailureSaysWhichServerAndWhy(t *testing.T) {
	raw := status.Error(codes.Unavailable, `connection error: desc = "transport: Error while dialing dial tcp 10.1.2.3:50051: connect: no route to host"`)
	got := wrapFor(raw, "10.1.2.3:50051").Error()
	if got != "unavailable: cannot reach the control plane at 10.1.2.3:50051 (no route to host)" {
		t.Fatalf("got %q", got)
	}
	if status.Convert(wrapFor(raw, "x")).Message() != status.Convert(raw).Message() {
		t.Fatal("the original status must stay available")
	}
	other := status.Error(codes.Unavailable, "the database is unavailable; retry shortly")
	if got := wrapFor(other, "x").Error(); got != "unavailable: the database is unavailable; retry shortly" {
		t.Fatalf("got %q", got)
	}
}
