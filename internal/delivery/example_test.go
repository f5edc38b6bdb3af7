package delivery_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hookrelay/hookrelay/internal/delivery"
)

func ExamplePolicy_Next() {
	p := delivery.Policy{Schedule: []time.Duration{5 * time.Second, 5 * time.Minute}}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

	next, retry := p.Next(1, 503, "", now)
	fmt.Println(retry, next.Sub(now))
	next, retry = p.Next(1, 429, "120", now) // Retry-After lengthens the delay
	fmt.Println(retry, next.Sub(now))
	_, retry = p.Next(1, 400, "", now) // final
	fmt.Println(retry)
	_, retry = p.Next(3, 503, "", now) // past the schedule
	fmt.Println(retry)
	// Output:
	// true 5s
	// true 2m0s
	// false
	// false
}

func ExampleCheckURL() {
	ctx := context.Background()
	for _, u := range []string{
		"https://93.184.216.34/hooks",
		"http://169.254.169.254/latest/meta-data/",
		"http://[::ffff:10.0.0.1]/",
		"ftp://93.184.216.34/",
	} {
		err := delivery.CheckURL(ctx, u, false)
		fmt.Println(u, err == nil, errors.Is(err, delivery.ErrForbiddenAddress), errors.Is(err, delivery.ErrBadURL))
	}
	// Output:
	// https://93.184.216.34/hooks true false false
	// http://169.254.169.254/latest/meta-data/ false true false
	// http://[::ffff:10.0.0.1]/ false true false
	// ftp://93.184.216.34/ false false true
}
