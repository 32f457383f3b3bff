// A sessiond client in Go, from stubs that protoc-gen-go and protoc-gen-go-grpc generate
// from sessiond/v1/session.proto: Set without a session id, then Get with the id the
// server sent back in the response metadata, over TLS with a bearer token.
//
// Usage: SESSIOND_TOKEN=… sessiond-client -addr 127.0.0.1:50051 -ca ca.crt
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/structpb"

	sessiondv1 "sessiondclient/sessiondv1"
)

// bearer sends `authorization: Bearer TOKEN` with every call, and only over TLS.
type bearer string

func (t bearer) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + string(t)}, nil
}

func (bearer) RequireTransportSecurity() bool { return true }

func main() {
	addr := flag.String("addr", "127.0.0.1:50051", "sessiond's host:port")
	ca := flag.String("ca", "ca.crt", "the CA certificate the server's certificate chains to")
	flag.Parse()

	tls, err := credentials.NewClientTLSFromFile(*ca, "") // checks the address's host name or IP
	if err != nil {
		log.Fatal(err)
	}
	conn, err := grpc.Dial(*addr,
		grpc.WithTransportCredentials(tls),
		grpc.WithPerRPCCredentials(bearer(os.Getenv("SESSIOND_TOKEN"))))
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	client := sessiondv1.NewSessionServiceClient(conn)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	value, err := structpb.NewValue(map[string]interface{}{"items": []interface{}{"book"}, "total": 12.5})
	if err != nil {
		log.Fatal(err)
	}
	var header metadata.MD
	set, err := client.Set(ctx, &sessiondv1.SetRequest{Key: "cart", Value: value}, grpc.Header(&header))
	if err != nil {
		log.Fatal(err)
	}
	id := header.Get("x-session-id")[0] // the new session's id, also in set.SessionId
	fmt.Println(set.Version, id == set.SessionId)

	session := metadata.AppendToOutgoingContext(ctx, "x-session-id", id)
	got, err := client.Get(session, &sessiondv1.GetRequest{Key: "cart"})
	if err != nil {
		log.Fatal(err)
	}
	text, err := json.Marshal(got.Value.AsInterface()) // encoding/json sorts the keys
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(got.Found, string(text))

	bad := metadata.AppendToOutgoingContext(ctx, "x-session-id", "../x")
	_, err = client.Get(bad, &sessiondv1.GetRequest{Key: "cart"})
	fmt.Println(status.Code(err), status.Convert(err).Message())
}
