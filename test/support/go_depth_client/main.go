// Values at the nesting limit through grpc-go (test/service/depthLimit.test.ts).
//
// Usage: go_depth_client <host:port> <depth>
//
// For objects and for lists: Set a value nested <depth> levels (an empty one at the
// bottom), Get it and GetData it back, then Set one level more. Prints one JSON object
// per kind.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"os"
	"strconv"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/structpb"

	sessiondv1 "sessiondclient/sessiondv1"
)

func nested(kind string, levels int) interface{} {
	var value interface{} = map[string]interface{}{}
	if kind == "list" {
		value = []interface{}{}
	}
	for i := 0; i < levels; i++ {
		if kind == "struct" {
			value = map[string]interface{}{"k": value}
		} else {
			value = []interface{}{value}
		}
	}
	return value
}

func must(err error) {
	if err != nil {
		log.Fatal(err)
	}
}

func main() {
	depth, err := strconv.Atoi(os.Args[2])
	must(err)
	conn, err := grpc.Dial(os.Args[1], grpc.WithInsecure())
	must(err)
	defer conn.Close()
	client := sessiondv1.NewSessionServiceClient(conn)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, kind := range []string{"struct", "list"} {
		value, err := structpb.NewValue(nested(kind, depth))
		must(err)
		set, err := client.Set(ctx, &sessiondv1.SetRequest{Key: "v", Value: value})
		must(err)
		session := metadata.AppendToOutgoingContext(ctx, "x-session-id", set.SessionId)
		got, err := client.Get(session, &sessiondv1.GetRequest{Key: "v"})
		must(err)
		data, err := client.GetData(session, &sessiondv1.GetDataRequest{})
		must(err)
		deeper, err := structpb.NewValue(nested(kind, depth+1))
		must(err)
		_, err = client.Set(session, &sessiondv1.SetRequest{Key: "w", Value: deeper})
		line, err := json.Marshal(map[string]interface{}{
			"kind":   kind,
			"get":    got.Value.AsInterface(),
			"data":   data.Data.AsMap(),
			"deeper": []string{status.Code(err).String(), status.Convert(err).Message()},
		})
		must(err)
		fmt.Println(string(line))
	}
}
