package examples_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log"
	"os"
	"testing"
	"time"

	"camfleet.io/go/camfleet"
	camfleetv1 "camfleet.io/go/camfleetv1"
	"google.golang.org/protobuf/types/known/durationpb"
)

var (
	target   = os.Getenv("CAMFLEET_TARGET")
	password = os.Getenv("CAMFLEET_PASSWORD")
)

func TestMain(m *testing.M) {
	if target == "" || password == "" {
		fmt.Fprintln(os.Stderr, "set CAMFLEET_TARGET (host:port of a running control plane) and "+
			"CAMFLEET_PASSWORD (its admin's password) to run these examples")
		os.Exit(2)
	}
	os.Exit(m.Run())
}

// unique is a name no other run uses.
func unique(prefix string) string {
	b := make([]byte, 5)
	if _, err := rand.Read(b); err != nil {
		log.Fatal(err)
	}
	return prefix + hex.EncodeToString(b)
}

// admin is a client logged in as the admin.
func admin(ctx context.Context) *camfleet.Client {
	client, err := camfleet.Dial(ctx, target)
	if err != nil {
		log.Fatal(err)
	}
	if _, err := client.Login(ctx, "admin", password); err != nil {
		log.Fatal(err)
	}
	return client
}

// Log in with a username and password; later calls carry the session's token.
func Example_login() {
	ctx := context.Background()
	client, err := camfleet.Dial(ctx, target)
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	user, err := client.Login(ctx, "admin", password)
	if err != nil {
		log.Fatal(err)
	}
	me, err := client.Auth.WhoAmI(ctx, &camfleetv1.WhoAmIRequest{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("logged in as", user.GetUsername(), "with", user.GetRole())
	fmt.Println("authenticated by", me.GetAuthMethod())
	// Output:
	// logged in as admin with ROLE_ADMIN
	// authenticated by password
}

// A wrong password is an *Error whose message says what is wrong.
func Example_wrongPassword() {
	ctx := context.Background()
	client, err := camfleet.Dial(ctx, target)
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	_, err = client.Login(ctx, "admin", "not-the-password")
	fmt.Println(err)
	// Output: unauthenticated: username or password is incorrect
}

// Create a camera, find it in the list, get it, delete it.
func Example_cameraLifecycle() {
	ctx := context.Background()
	client := admin(ctx)
	defer client.Close()
	name := unique("go-example-")
	created, err := client.Cameras.CreateCamera(ctx, &camfleetv1.CreateCameraRequest{
		Camera: &camfleetv1.Camera{Name: name, Location: "loading dock"},
	})
	if err != nil {
		log.Fatal(err)
	}
	id := created.GetCamera().GetId()
	listed, err := client.Cameras.ListCameras(ctx, &camfleetv1.ListCamerasRequest{Search: name})
	if err != nil {
		log.Fatal(err)
	}
	for _, c := range listed.GetCameras() {
		fmt.Println("listed:", c.GetId() == id, c.GetLocation(), c.GetStatus())
	}
	got, err := client.Cameras.GetCamera(ctx, &camfleetv1.GetCameraRequest{Id: id})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("got the same name back:", got.GetCamera().GetName() == name)
	if _, err := client.Cameras.DeleteCamera(ctx, &camfleetv1.DeleteCameraRequest{Id: id}); err != nil {
		log.Fatal(err)
	}
	_, err = client.Cameras.GetCamera(ctx, &camfleetv1.GetCameraRequest{Id: id})
	var e *camfleet.Error
	if errors.As(err, &e) {
		fmt.Println("after delete:", e.Code, e.Reason)
	}
	// Output:
	// listed: true loading dock CAMERA_STATUS_OFFLINE
	// got the same name back: true
	// after delete: NotFound NOT_FOUND
}

// A refused request names the fields to fix (google.rpc.BadRequest, decoded).
func Example_fieldViolation() {
	ctx := context.Background()
	client := admin(ctx)
	defer client.Close()
	_, err := client.Cameras.CreateCamera(ctx, &camfleetv1.CreateCameraRequest{
		Camera: &camfleetv1.Camera{Name: unique("go-pull-"), IngestMode: camfleetv1.IngestMode_INGEST_MODE_PULL},
	})
	fmt.Println(err)
	if e := camfleet.AsError(err); e != nil {
		for _, v := range e.Violations {
			fmt.Printf("fix %s: %s\n", v.Field, v.Description)
		}
	}
	// Output:
	// invalid argument: camera.source_url: is required for INGEST_MODE_PULL
	// fix camera.source_url: is required for INGEST_MODE_PULL
}

// An integration authenticates with an API token: no login, no refresh, only its scopes.
func Example_apiToken() {
	ctx := context.Background()
	client := admin(ctx)
	defer client.Close()
	owner, err := client.Users.CreateUser(ctx, &camfleetv1.CreateUserRequest{
		User:     &camfleetv1.User{Username: unique("go-bot-"), Role: camfleetv1.Role_ROLE_API},
		Password: unique("pw-"),
	})
	if err != nil {
		log.Fatal(err)
	}
	created, err := client.APITokens.CreateApiToken(ctx, &camfleetv1.CreateApiTokenRequest{
		ApiToken: &camfleetv1.ApiToken{
			Name: unique("go-token-"), OwnerUserId: owner.GetUser().GetId(), Scopes: []string{"cameras.read"},
		},
		Ttl: durationpb.New(time.Hour),
	})
	if err != nil {
		log.Fatal(err)
	}

	bot, err := camfleet.Dial(ctx, target, camfleet.WithAPIToken(created.GetSecret()))
	if err != nil {
		log.Fatal(err)
	}
	defer bot.Close()
	me, err := bot.Auth.WhoAmI(ctx, &camfleetv1.WhoAmIRequest{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("authenticated by", me.GetAuthMethod(), "with", me.GetPermissions())
	if _, err := bot.Cameras.ListCameras(ctx, &camfleetv1.ListCamerasRequest{PageSize: 1}); err != nil {
		log.Fatal(err)
	}
	fmt.Println("listed cameras")
	_, err = bot.Cameras.CreateCamera(ctx, &camfleetv1.CreateCameraRequest{
		Camera: &camfleetv1.Camera{Name: unique("go-denied-")},
	})
	fmt.Println(camfleet.AsError(err).Code)
	// Output:
	// authenticated by api_token with [cameras.read]
	// listed cameras
	// PermissionDenied
}
