package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"

	"github.com/hookrelay/hookrelay/client"
)

// exampleServer starts a real hookrelay API on a temporary SQLite store;
// in real use the URL is the service's and the key is one it issued.
func exampleServer() *testServer {
	ts, err := startServer("", nil, nil)
	if err != nil {
		log.Fatal(err)
	}
	return ts
}

func ExampleNew() {
	ts := exampleServer()
	defer ts.Close()
	ctx := context.Background()

	c := client.New(ts.URL, ts.Key)
	ep, err := c.CreateEndpoint(ctx, &client.CreateEndpointParams{
		URL:        "http://127.0.0.1:9/hooks",
		EventTypes: []string{"invoice.*"},
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(ep.Scheme, ep.EventTypes, ep.Secret != "")
	// Output: standard [invoice.*] true
}

func ExampleClient_SendEvent() {
	ts := exampleServer()
	defer ts.Close()
	ctx := context.Background()
	c := client.New(ts.URL, ts.Key)
	if _, err := c.CreateEndpoint(ctx, &client.CreateEndpointParams{URL: "http://127.0.0.1:9/hooks"}); err != nil {
		log.Fatal(err)
	}

	// The payload is sent and delivered byte for byte.
	ev, err := c.SendEvent(ctx, &client.SendEventParams{
		Type:           "invoice.paid",
		IdempotencyKey: "invoice-42-paid",
		Payload:        json.RawMessage(`{"amount": 4200, "currency": "EUR"}`),
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(*ev.Deliveries, "delivery")

	// The same key again creates nothing.
	again, err := c.SendEvent(ctx, &client.SendEventParams{
		Type:           "invoice.paid",
		IdempotencyKey: "invoice-42-paid",
		Payload:        json.RawMessage(`{"amount": 4200, "currency": "EUR"}`),
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(again.Duplicate, again.ID == ev.ID)

	got, err := c.GetEvent(ctx, ev.ID)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(got.Payload))
	// Output:
	// 1 delivery
	// true true
	// {"amount": 4200, "currency": "EUR"}
}

func ExampleClient_AllEndpoints() {
	ts := exampleServer()
	defer ts.Close()
	ctx := context.Background()
	c := client.New(ts.URL, ts.Key)
	for range 5 {
		if _, err := c.CreateEndpoint(ctx, &client.CreateEndpointParams{URL: "http://127.0.0.1:9/hooks", Tenant: "acme"}); err != nil {
			log.Fatal(err)
		}
	}

	// Two per page: the loop follows the cursors through three pages.
	n := 0
	for ep, err := range c.AllEndpoints(ctx, &client.EndpointFilter{Tenant: new("acme"), Limit: 2}) {
		if err != nil {
			log.Fatal(err)
		}
		if ep.Tenant == "acme" {
			n++
		}
	}
	fmt.Println(n, "endpoints of acme")
	// Output: 5 endpoints of acme
}

func ExampleClient_UpdateEndpoint() {
	ts := exampleServer()
	defer ts.Close()
	ctx := context.Background()
	c := client.New(ts.URL, ts.Key)
	ep, err := c.CreateEndpoint(ctx, &client.CreateEndpointParams{URL: "http://127.0.0.1:9/hooks", Description: "billing"})
	if err != nil {
		log.Fatal(err)
	}

	// Only the fields set change: here the state, not the description.
	ep, err = c.UpdateEndpoint(ctx, ep.ID, &client.UpdateEndpointParams{Disabled: new(true)})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(ep.Disabled, ep.DisabledReason, ep.Description)
	// Output: true manual billing
}

func ExampleError() {
	ts := exampleServer()
	defer ts.Close()
	c := client.New(ts.URL, ts.Key)

	_, err := c.GetEndpoint(context.Background(), "ep_gone")
	fmt.Println(errors.Is(err, client.ErrNotFound))
	if e, ok := errors.AsType[*client.Error](err); ok {
		fmt.Println(e.StatusCode, e.Code)
	}

	_, err = c.CreateEndpoint(context.Background(), &client.CreateEndpointParams{URL: "http://127.0.0.1:9/", Scheme: "rot13"})
	fmt.Println(errors.Is(err, client.ErrValidation))
	// Output:
	// true
	// 404 not_found
	// true
}

func ExampleClient_TestFilter() {
	ts := exampleServer()
	defer ts.Close()
	ctx := context.Background()
	c := client.New(ts.URL, ts.Key)
	ep, err := c.CreateEndpoint(ctx, &client.CreateEndpointParams{
		URL:    "http://127.0.0.1:9/hooks",
		Filter: json.RawMessage(`{"amount": {"$gt": 12345678901234567890}}`),
	})
	if err != nil {
		log.Fatal(err)
	}
	// Numbers compare exactly, beyond float64's precision.
	for _, p := range []string{`{"amount": 12345678901234567891}`, `{"amount": 12345678901234567890.0}`} {
		ok, err := c.TestFilter(ctx, ep.ID, json.RawMessage(p), nil)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(ok)
	}
	// Output:
	// true
	// false
}

func ExampleClient_SendEvents() {
	ts := exampleServer()
	defer ts.Close()
	ctx := context.Background()
	c := client.New(ts.URL, ts.Key)
	if _, err := c.CreateEndpoint(ctx, &client.CreateEndpointParams{URL: "http://127.0.0.1:9/hooks"}); err != nil {
		log.Fatal(err)
	}

	res, err := c.SendEvents(ctx, []*client.SendEventParams{
		{Type: "invoice.paid", Payload: json.RawMessage(`{"id":"in_1"}`)},
		{Type: "not a type", Payload: json.RawMessage(`{}`)},
		{Type: "invoice.sent", Payload: json.RawMessage(`{"id":"in_2"}`)},
	})
	if err != nil {
		log.Fatal(err) // the whole request was refused
	}
	for i, r := range res {
		if r.Err != nil {
			fmt.Println(i, r.Status, r.Err.Code)
			continue
		}
		fmt.Println(i, r.Status, r.Event.Type, *r.Event.Deliveries)
	}
	// Output:
	// 0 202 invoice.paid 1
	// 1 422 validation_failed
	// 2 202 invoice.sent 1
}
