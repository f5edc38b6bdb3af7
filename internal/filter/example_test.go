package filter_test

import (
	"errors"
	"fmt"

	"github.com/hookrelay/hookrelay/internal/filter"
)

func Example() {
	f, err := filter.Parse([]byte(`{"data": {"amount": {"$gt": 12345678901234567890}, "tags": "urgent"}}`))
	if err != nil {
		panic(err)
	}
	for _, payload := range []string{
		`{"data": {"amount": 12345678901234567891, "tags": ["urgent", "vip"]}}`,
		`{"data": {"amount": 12345678901234567890, "tags": ["urgent"]}}`,
	} {
		ok, err := f.Match([]byte(payload))
		fmt.Println(ok, err)
	}
	// Output:
	// true <nil>
	// false <nil>
}

func ExampleParse_error() {
	_, err := filter.Parse([]byte(`{"data": {"amount": {"$gt": true}}}`))
	var fe *filter.Error
	if errors.As(err, &fe) {
		fmt.Println(fe.Path)
	}
	fmt.Println(err)
	// Output:
	// $.data.amount.$gt
	// $.data.amount.$gt: must be a number or a string
}

func ExampleFilter_MatchValue() {
	// Decode the payload once, evaluate many filters on it.
	v, err := filter.Decode([]byte(`{"price": 0.10, "currency": "EUR"}`))
	if err != nil {
		panic(err)
	}
	for _, text := range []string{`{"price": 0.1}`, `{"currency": {"$in": ["USD", "GBP"]}}`} {
		f, err := filter.Parse([]byte(text))
		if err != nil {
			panic(err)
		}
		fmt.Println(text, f.MatchValue(v))
	}
	// Output:
	// {"price": 0.1} true
	// {"currency": {"$in": ["USD", "GBP"]}} false
}
