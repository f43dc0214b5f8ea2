package camfleet

import (
	"context"
	"crypto/tls"
	"strings"
	"time"

	camfleetv1 "camfleet.io/go/camfleetv1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// DefaultRefreshMargin is how long before its access token expires a session is refreshed.
const DefaultRefreshMargin = 30 * time.Second

var errNotLoggedIn = status.Error(codes.Unauthenticated, "this client is not logged in; call Login first")

type options struct {
	tls       *tls.Config
	plaintext bool
	apiToken  string
	margin    time.Duration
	onRefresh func(*camfleetv1.TokenPair)
	dial      []grpc.DialOption
}

// Option configures Dial.
type Option func(*options)

// WithTLS connects over TLS with cfg (nil: the system's roots). TLS is the default for any
// host that is not loopback.
func WithTLS(cfg *tls.Config) Option {
	return func(o *options) {
		if cfg == nil {
			cfg = &tls.Config{MinVersion: tls.VersionTLS12}
		}
		o.tls, o.plaintext = cfg, false
	}
}

// WithInsecure connects without TLS, also to a host that is not loopback (the default for
// 127.0.0.1, ::1 and localhost).
func WithInsecure() Option { return func(o *options) { o.plaintext, o.tls = true, nil } }

// WithAPIToken authenticates every call with an API token (`cft_…`) instead of a login.
func WithAPIToken(token string) Option { return func(o *options) { o.apiToken = token } }

// WithRefreshMargin refreshes a session this long before its access token expires
// (default DefaultRefreshMargin). A negative margin refreshes only after the server refused
// an expired token, as a client whose clock is behind the server's would.
func WithRefreshMargin(d time.Duration) Option { return func(o *options) { o.margin = d } }

// WithOnRefresh calls fn with the new tokens after each silent refresh, e.g. to store them:
// a refresh token works once, so a stored one is stale after a refresh.
func WithOnRefresh(fn func(*camfleetv1.TokenPair)) Option {
	return func(o *options) { o.onRefresh = fn }
}

// WithDialOptions passes extra options to grpc.DialContext.
func WithDialOptions(opts ...grpc.DialOption) Option {
	return func(o *options) { o.dial = append(o.dial, opts...) }
}

// Client is a connection to a camfleet control plane with a stub for each service. Every
// call carries the client's credentials (see Login, UseAPIToken) and returns *Error on
// failure.
type Client struct {
	conn    *grpc.ClientConn
	session *session

	Auth       camfleetv1.AuthServiceClient
	Users      camfleetv1.UserServiceClient
	APITokens  camfleetv1.ApiTokenServiceClient
	Cameras    camfleetv1.CameraServiceClient
	Nodes      camfleetv1.NodeServiceClient
	Recordings camfleetv1.RecordingServiceClient
	Streams    camfleetv1.StreamServiceClient
	Events     camfleetv1.EventServiceClient
	Audit      camfleetv1.AuditServiceClient
	Alerts     camfleetv1.AlertServiceClient
	Analytics  camfleetv1.AnalyticsServiceClient
	Settings   camfleetv1.SettingsServiceClient
}

// Dial connects to the control plane at target ("host:port"). It returns at once; a server
// that is down shows as an UNAVAILABLE *Error on the first call.
func Dial(ctx context.Context, target string, opts ...Option) (*Client, error) {
	o := options{margin: DefaultRefreshMargin}
	for _, opt := range opts {
		opt(&o)
	}
	s := &session{margin: o.margin, onRefresh: o.onRefresh, apiToken: o.apiToken}
	transport := grpc.WithInsecure()
	if !o.plaintext && (o.tls != nil || !isLoopback(hostOf(target))) {
		cfg := o.tls
		if cfg == nil {
			cfg = &tls.Config{MinVersion: tls.VersionTLS12}
		}
		transport = grpc.WithTransportCredentials(credentials.NewTLS(cfg))
	}
	dialOpts := append([]grpc.DialOption{
		transport,
		grpc.WithUserAgent("camfleet-go"),
		grpc.WithUnaryInterceptor(s.unary),
		grpc.WithStreamInterceptor(s.stream),
	}, o.dial...)
	conn, err := grpc.DialContext(ctx, target, dialOpts...)
	if err != nil {
		return nil, wrap(err)
	}
	s.auth = camfleetv1.NewAuthServiceClient(conn)
	return &Client{
		conn:       conn,
		session:    s,
		Auth:       s.auth,
		Users:      camfleetv1.NewUserServiceClient(conn),
		APITokens:  camfleetv1.NewApiTokenServiceClient(conn),
		Cameras:    camfleetv1.NewCameraServiceClient(conn),
		Nodes:      camfleetv1.NewNodeServiceClient(conn),
		Recordings: camfleetv1.NewRecordingServiceClient(conn),
		Streams:    camfleetv1.NewStreamServiceClient(conn),
		Events:     camfleetv1.NewEventServiceClient(conn),
		Audit:      camfleetv1.NewAuditServiceClient(conn),
		Alerts:     camfleetv1.NewAlertServiceClient(conn),
		Analytics:  camfleetv1.NewAnalyticsServiceClient(conn),
		Settings:   camfleetv1.NewSettingsServiceClient(conn),
	}, nil
}

// Login starts a password session; later calls carry its access token, refreshed silently.
func (c *Client) Login(ctx context.Context, username, password string) (*camfleetv1.User, error) {
	resp, err := c.Auth.Login(ctx, &camfleetv1.LoginRequest{Username: username, Password: password})
	if err != nil {
		return nil, err
	}
	c.session.useTokens(resp.GetTokens())
	return resp.GetUser(), nil
}

// ResumeSession continues a session from tokens stored earlier (see Tokens, WithOnRefresh).
func (c *Client) ResumeSession(tokens *camfleetv1.TokenPair) { c.session.useTokens(tokens) }

// UseAPIToken authenticates later calls with an API token, ending any password session
// on this client (without revoking it on the server; see Logout).
func (c *Client) UseAPIToken(token string) { c.session.useAPIToken(token) }

// Tokens is the current password session's token pair, or nil.
func (c *Client) Tokens() *camfleetv1.TokenPair { return c.session.tokens() }

// Refreshes counts the silent refreshes this client has made.
func (c *Client) Refreshes() int { return c.session.refreshes() }

// Logout ends the password session on the server (its refresh token stops working) and
// forgets its tokens.
func (c *Client) Logout(ctx context.Context) error {
	tokens := c.session.tokens()
	if tokens == nil {
		return AsError(errNotLoggedIn)
	}
	_, err := c.Auth.Logout(ctx, &camfleetv1.LogoutRequest{RefreshToken: tokens.GetRefreshToken()})
	c.session.clear()
	return err
}

// Conn is the underlying connection, for stubs of other services.
func (c *Client) Conn() *grpc.ClientConn { return c.conn }

// Close closes the connection.
func (c *Client) Close() error { return c.conn.Close() }

func timestamp(t time.Time) *timestamppb.Timestamp { return timestamppb.New(t) }

// hostOf is target's host:port without a resolver scheme ("dns:///", "passthrough:///").
func hostOf(target string) string {
	if i := strings.Index(target, ":///"); i >= 0 {
		return target[i+4:]
	}
	return target
}
