package camfleet

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// ErrorDomain is the ErrorInfo domain of the errors the camfleet server sends.
const ErrorDomain = "camfleet.io"

// FieldViolation is one field of a request the server refused, and what is wrong with it.
type FieldViolation struct {
	Field       string
	Description string
}

// Error is a failed call with the google.rpc details the server attached decoded: the
// ErrorInfo reason and metadata, the BadRequest field violations and the RetryInfo delay.
// Every error a Client's calls return is an *Error (use errors.As, or AsError); it still
// works with status.Code and status.FromError.
type Error struct {
	Code    codes.Code
	Message string
	// Reason is ErrorInfo.reason, e.g. "NOT_FOUND", "TOKEN_EXPIRED", "INVALID_ARGUMENT".
	Reason   string
	Domain   string
	Metadata map[string]string
	// Violations lists the request's fields to fix (INVALID_ARGUMENT).
	Violations []FieldViolation
	// RetryDelay is how long to wait before trying again (RESOURCE_EXHAUSTED), or zero.
	RetryDelay time.Duration

	status *status.Status
}

// Error renders the failure as one sentence: the code in words, the server's message, the
// field violations the message does not already name, and the retry delay unless the
// message already says when to try again.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(codeWords(e.Code))
	b.WriteString(": ")
	msg := e.Message
	if msg == "" {
		msg = "the server gave no message"
	}
	b.WriteString(msg)
	var extra []string
	for _, v := range e.Violations {
		text := v.Field + ": " + v.Description
		if !strings.Contains(msg, text) {
			extra = append(extra, text)
		}
	}
	if len(extra) > 0 {
		b.WriteString(" (")
		b.WriteString(strings.Join(extra, "; "))
		b.WriteString(")")
	}
	lower := strings.ToLower(msg)
	if e.RetryDelay > 0 && !strings.Contains(lower, "try again") && !strings.Contains(lower, "retry") {
		fmt.Fprintf(&b, "; retry in %s", e.RetryDelay.Round(time.Millisecond))
	}
	return b.String()
}

// GRPCStatus lets status.FromError and status.Code see the original status.
func (e *Error) GRPCStatus() *status.Status { return e.status }

// Field returns the description of the violation of field, or "" when it has none.
func (e *Error) Field(field string) string {
	for _, v := range e.Violations {
		if v.Field == field {
			return v.Description
		}
	}
	return ""
}

// AsError returns err as an *Error when it is one or carries a gRPC status; nil otherwise.
func AsError(err error) *Error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	st, ok := status.FromError(err)
	if !ok {
		return nil
	}
	return fromStatus(st)
}

// wrap turns a status error into an *Error; other errors (and nil) pass through unchanged.
func wrap(err error) error {
	if err == nil {
		return nil
	}
	if e := AsError(err); e != nil {
		return e
	}
	return err
}

// wrapFor is wrap for a call to target: a connection that failed says so in plain words.
func wrapFor(err error, target string) error {
	err = wrap(err)
	if e, ok := err.(*Error); ok && e.Code == codes.Unavailable {
		e.Message = connectionFailure(e.Message, target)
	}
	return err
}

// connectionFailure rewrites grpc-go's `connection error: desc = "transport: Error while
// dialing dial tcp 127.0.0.1:1: connect: connection refused"` as "cannot reach the control
// plane at 127.0.0.1:1 (connection refused)"; other messages are returned unchanged.
func connectionFailure(msg, target string) string {
	const prefix = `connection error: desc = "transport: `
	if !strings.HasPrefix(msg, prefix) {
		return msg
	}
	cause := strings.TrimSuffix(msg[len(prefix):], `"`)
	if i := strings.LastIndex(cause, ": "); i >= 0 {
		cause = cause[i+2:]
	}
	return fmt.Sprintf("cannot reach the control plane at %s (%s)", target, cause)
}

func fromStatus(st *status.Status) *Error {
	e := &Error{Code: st.Code(), Message: st.Message(), status: st}
	for _, detail := range st.Details() {
		switch d := detail.(type) {
		case *errdetails.ErrorInfo:
			e.Reason = strings.TrimPrefix(d.GetReason(), "ERROR_REASON_")
			e.Domain = d.GetDomain()
			e.Metadata = d.GetMetadata()
		case *errdetails.BadRequest:
			for _, v := range d.GetFieldViolations() {
				e.Violations = append(e.Violations, FieldViolation{v.GetField(), v.GetDescription()})
			}
		case *errdetails.RetryInfo:
			if delay := d.GetRetryDelay(); delay != nil {
				e.RetryDelay = time.Duration(delay.GetSeconds())*time.Second +
					time.Duration(delay.GetNanos())
			}
		}
	}
	return e
}

// codeWords is a status code as lower-case words ("invalid argument", "not found").
func codeWords(c codes.Code) string {
	name := c.String()
	if strings.HasPrefix(name, "Code(") {
		return "error " + name
	}
	var b strings.Builder
	for i, r := range name {
		if i > 0 && r >= 'A' && r <= 'Z' {
			b.WriteByte(' ')
		}
		b.WriteRune(r)
	}
	return strings.ToLower(b.String())
}
