package examples_test

import (
	"context"
	"os"
	"sync"
	"testing"
	"time"

	"camfleet.io/go/camfleet"
	camfleetv1 "camfleet.io/go/camfleetv1"
)

// A margin longer than any access token's life refreshes before every call: the refreshes
// of concurrent calls must be serialized, or a refresh token would be used twice (which the
// server treats as theft and ends the session).
func TestConcurrentCallsRefreshOneAtATime(t *testing.T) {
	ctx := context.Background()
	client, err := camfleet.Dial(ctx, target, camfleet.WithRefreshMargin(30*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	if _, err := client.Login(ctx, "admin", password); err != nil {
		t.Fatal(err)
	}
	const calls = 8
	var wg sync.WaitGroup
	errs := make(chan error, calls)
	for i := 0; i < calls; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := client.Auth.WhoAmI(ctx, &camfleetv1.WhoAmIRequest{})
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("a call failed: %v", err)
		}
	}
	if got := client.Refreshes(); got != calls {
		t.Fatalf("%d refreshes for %d calls", got, calls)
	}
	if err := client.Logout(ctx); err != nil {
		t.Fatalf("logout after the refreshes: %v", err)
	}
}

// A client whose clock is behind sends an expired access token: the server refuses it as
// TOKEN_EXPIRED, and the interceptor refreshes and retries once, unseen by the caller.
func TestRefreshAfterTheServerRefusedAnExpiredToken(t *testing.T) {
	short := os.Getenv("CAMFLEET_SHORT_TARGET")
	if short == "" {
		t.Fatal("set CAMFLEET_SHORT_TARGET to a control plane whose access tokens live a few seconds")
	}
	ctx := context.Background()
	var saved *camfleetv1.TokenPair
	client, err := camfleet.Dial(ctx, short, camfleet.WithRefreshMargin(-time.Hour),
		camfleet.WithOnRefresh(func(tp *camfleetv1.TokenPair) { saved = tp }))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	if _, err := client.Login(ctx, "admin", password); err != nil {
		t.Fatal(err)
	}
	first := client.Tokens()
	// JWT expiry has a resolution of one second.
	time.Sleep(time.Until(first.GetAccessTokenExpireTime().AsTime()) + 1500*time.Millisecond)
	me, err := client.Auth.WhoAmI(ctx, &camfleetv1.WhoAmIRequest{})
	if err != nil {
		t.Fatalf("the call with an expired access token was not refreshed: %v", err)
	}
	if me.GetUser().GetUsername() != "admin" || client.Refreshes() != 1 {
		t.Fatalf("user %q after %d refreshes", me.GetUser().GetUsername(), client.Refreshes())
	}
	if saved == nil || saved.GetRefreshToken() == first.GetRefreshToken() ||
		saved.GetAccessToken() != client.Tokens().GetAccessToken() {
		t.Fatal("WithOnRefresh did not receive the new token pair")
	}

	// Without a refresh token that still works, the caller sees the server's sentence.
	client.ResumeSession(first)
	time.Sleep(10 * time.Millisecond)
	_, err = client.Auth.WhoAmI(ctx, &camfleetv1.WhoAmIRequest{})
	e := camfleet.AsError(err)
	if e == nil || e.Reason == "" || e.Code.String() != "Unauthenticated" {
		t.Fatalf("a reused refresh token: %v", err)
	}
	t.Log(err)
}
