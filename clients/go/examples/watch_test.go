package examples_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"camfleet.io/go/camfleet"
	camfleetv1 "camfleet.io/go/camfleetv1"
)

// Follow changes from the revision a list reflects: the watch replays what happened since.
func Example_watchEvents() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	client := admin(ctx)
	defer client.Close()
	listed, err := client.Cameras.ListCameras(ctx, &camfleetv1.ListCamerasRequest{PageSize: 1})
	if err != nil {
		log.Fatal(err)
	}
	name := unique("go-watched-")
	created, err := client.Cameras.CreateCamera(ctx, &camfleetv1.CreateCameraRequest{
		Camera: &camfleetv1.Camera{Name: name},
	})
	if err != nil {
		log.Fatal(err)
	}
	id := created.GetCamera().GetId()
	defer client.Cameras.DeleteCamera(ctx, &camfleetv1.DeleteCameraRequest{Id: id})

	watch, err := client.Events.WatchEvents(ctx, &camfleetv1.WatchEventsRequest{
		AfterRevision: listed.GetRevision(),
		Filter:        fmt.Sprintf("subject = %q", "cameras/"+id),
	})
	if err != nil {
		log.Fatal(err)
	}
	for {
		resp, err := watch.Recv()
		if err != nil {
			log.Fatal(err)
		}
		if event := resp.GetEvent(); event.GetType() == camfleetv1.EventType_EVENT_TYPE_CAMERA_CREATED {
			fmt.Println(event.GetType(), event.GetCamera().GetName() == name)
			break
		}
	}
	// Output: EVENT_TYPE_CAMERA_CREATED true
}

// A stream's refusal arrives on its first Recv, decoded like any other.
func Example_watchWithABadFilter() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	client := admin(ctx)
	defer client.Close()
	watch, err := client.Events.WatchEvents(ctx, &camfleetv1.WatchEventsRequest{Filter: "type = = 1"})
	if err != nil {
		log.Fatal(err)
	}
	_, err = watch.Recv()
	e := camfleet.AsError(err)
	fmt.Println(e.Code, e.Field("filter") != "")
	// Output: InvalidArgument true
}

// A control plane that is not there is UNAVAILABLE, said in one sentence.
func Example_serverDown() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	client, err := camfleet.Dial(ctx, "127.0.0.1:1")
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	_, err = client.Login(ctx, "admin", password)
	fmt.Println(err)
	// Output: unavailable: cannot reach the control plane at 127.0.0.1:1 (connection refused)
}
