package camfleet

import (
	"context"
	"io"
	"strings"
	"sync"
	"time"

	camfleetv1 "camfleet.io/go/camfleetv1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
)

const (
	loginMethod   = "/camfleet.v1.AuthService/Login"
	refreshMethod = "/camfleet.v1.AuthService/Refresh"
)

// session holds the caller's credentials and attaches them to every call: an API token as
// is, or a password session's access token, refreshed before it expires and once more when
// the server says it has (a client clock behind the server's).
//
// Refresh tokens work once (a reused one revokes the whole session), so refreshes are
// serialized: concurrent calls wait for one refresh and share its result.
type session struct {
	mu            sync.Mutex
	auth          camfleetv1.AuthServiceClient
	margin        time.Duration
	onRefresh     func(*camfleetv1.TokenPair)
	apiToken      string
	access        string
	accessExpiry  time.Time
	refresh       string
	refreshCount  int
	refreshExpiry time.Time
}

func (s *session) setTokens(tp *camfleetv1.TokenPair) {
	s.apiToken = ""
	s.access = tp.GetAccessToken()
	s.accessExpiry = tp.GetAccessTokenExpireTime().AsTime()
	s.refresh = tp.GetRefreshToken()
	s.refreshExpiry = tp.GetRefreshTokenExpireTime().AsTime()
}

func (s *session) tokens() *camfleetv1.TokenPair {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.access == "" {
		return nil
	}
	return &camfleetv1.TokenPair{
		AccessToken:            s.access,
		AccessTokenExpireTime:  timestamp(s.accessExpiry),
		RefreshToken:           s.refresh,
		RefreshTokenExpireTime: timestamp(s.refreshExpiry),
		TokenType:              "Bearer",
	}
}

func (s *session) useAPIToken(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.forgetLocked()
	s.apiToken = token
}

// forgetLocked drops every credential (the mutex stays held by the caller).
func (s *session) forgetLocked() {
	s.apiToken, s.access, s.refresh = "", "", ""
	s.accessExpiry, s.refreshExpiry = time.Time{}, time.Time{}
}

func (s *session) useTokens(tp *camfleetv1.TokenPair) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.setTokens(tp)
}

func (s *session) clear() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.forgetLocked()
}

// bearer is the token for the next call: the API token, the access token (refreshed first
// when it expires within the margin), or "" when the client has no credentials.
func (s *session) bearer(ctx context.Context) (token string, refreshable bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.apiToken != "" {
		return s.apiToken, false, nil
	}
	if s.access == "" {
		return "", false, nil
	}
	if time.Until(s.accessExpiry) <= s.margin {
		if err := s.refreshLocked(ctx); err != nil {
			return "", false, err
		}
	}
	return s.access, true, nil
}

// refreshAfter refreshes the session whose access token `rejected` the server refused as
// expired, unless another call has refreshed it since; it returns the token to retry with.
func (s *session) refreshAfter(ctx context.Context, rejected string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.access == "" || s.apiToken != "" {
		return "", AsError(errNotLoggedIn)
	}
	if s.access == rejected {
		if err := s.refreshLocked(ctx); err != nil {
			return "", err
		}
	}
	return s.access, nil
}

func (s *session) refreshLocked(ctx context.Context) error {
	resp, err := s.auth.Refresh(ctx, &camfleetv1.RefreshRequest{RefreshToken: s.refresh})
	if err != nil {
		return err // already an *Error: this call went through the interceptor too
	}
	s.setTokens(resp.GetTokens())
	s.refreshCount++
	if s.onRefresh != nil {
		s.onRefresh(resp.GetTokens())
	}
	return nil
}

func (s *session) refreshes() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.refreshCount
}

// withToken attaches token unless the caller set its own authorization metadata.
func withToken(ctx context.Context, method, token string) (context.Context, bool) {
	if token == "" || method == loginMethod || method == refreshMethod {
		return ctx, false
	}
	if md, ok := metadata.FromOutgoingContext(ctx); ok && len(md.Get("authorization")) > 0 {
		return ctx, false
	}
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+token), true
}

func (s *session) credentials(ctx context.Context, method string) (context.Context, string, bool, error) {
	if method == loginMethod || method == refreshMethod {
		return ctx, "", false, nil
	}
	token, refreshable, err := s.bearer(ctx)
	if err != nil {
		return ctx, "", false, err
	}
	ctx, attached := withToken(ctx, method, token)
	return ctx, token, attached && refreshable, nil
}

func (s *session) unary(ctx context.Context, method string, req, reply interface{},
	cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	callCtx, token, refreshable, err := s.credentials(ctx, method)
	if err != nil {
		return err
	}
	err = invoker(callCtx, method, req, reply, cc, opts...)
	if e := AsError(err); refreshable && e != nil && e.Code == codes.Unauthenticated &&
		e.Reason == "TOKEN_EXPIRED" {
		fresh, rerr := s.refreshAfter(ctx, token)
		if rerr != nil {
			return rerr
		}
		callCtx, _ = withToken(ctx, method, fresh)
		err = invoker(callCtx, method, req, reply, cc, opts...)
	}
	return wrapFor(err, cc.Target())
}

// stream attaches credentials when a stream opens (refreshing first when due) and turns the
// stream's errors into *Error.
func (s *session) stream(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn,
	method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	callCtx, _, _, err := s.credentials(ctx, method)
	if err != nil {
		return nil, err
	}
	cs, err := streamer(callCtx, desc, cc, method, opts...)
	if err != nil {
		return nil, wrapFor(err, cc.Target())
	}
	return &errorStream{cs, cc.Target()}, nil
}

type errorStream struct {
	grpc.ClientStream
	target string
}

func (e *errorStream) RecvMsg(m interface{}) error {
	err := e.ClientStream.RecvMsg(m)
	if err == io.EOF {
		return err
	}
	return wrapFor(err, e.target)
}

func (e *errorStream) SendMsg(m interface{}) error {
	err := e.ClientStream.SendMsg(m)
	if err == io.EOF {
		return err
	}
	return wrapFor(err, e.target)
}

func (e *errorStream) CloseSend() error { return wrapFor(e.ClientStream.CloseSend(), e.target) }

// isLoopback reports whether target's host is this machine (plain connections are the
// default only there).
func isLoopback(target string) bool {
	host := target
	if i := strings.LastIndex(host, ":"); i >= 0 && !strings.HasSuffix(host, "]") {
		host = host[:i]
	}
	host = strings.Trim(host, "[]")
	return host == "localhost" || host == "::1" || strings.HasPrefix(host, "127.")
}
