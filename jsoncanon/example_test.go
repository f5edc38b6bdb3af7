package jsoncanon_test

import (
	"errors"
	"fmt"

	"github.com/hookrelay/hookrelay/jsoncanon"
)

func ExampleJS() {
	body := []byte(`{"b": 1.0, "a": "é", "10": [1e21, 1e-7], "2": -0, "b": true}`)
	out, err := jsoncanon.JS(body)
	if err != nil {
		panic(err)
	}
	fmt.Printf("%s\n", out)
	// Output:
	// {"2":0,"10":[1e+21,1e-7],"b":true,"a":"é"}
}

func ExamplePython() {
	body := []byte(`{"b": 1.0, "a": "é", "10": [1e16, 1e-5], "2": -0, "b": true}`)
	out, err := jsoncanon.Python(body, nil)
	if err != nil {
		panic(err)
	}
	fmt.Printf("%s\n", out)
	// Output:
	// {"b": true, "a": "\u00e9", "10": [1e+16, 1e-05], "2": 0}
}

func ExamplePythonOptions() {
	body := []byte(`{"name": "Zoë", "emoji": "😀", "n": [1, 2.50]}`)
	for _, opts := range []*jsoncanon.PythonOptions{
		{Compact: true},                     // separators=(',', ':')
		{KeepNonASCII: true},                // ensure_ascii=False
		{Compact: true, KeepNonASCII: true}, // both
	} {
		out, err := jsoncanon.Python(body, opts)
		if err != nil {
			panic(err)
		}
		fmt.Printf("%s\n", out)
	}
	// Output:
	// {"name":"Zo\u00eb","emoji":"\ud83d\ude00","n":[1,2.5]}
	// {"name": "Zoë", "emoji": "😀", "n": [1, 2.5]}
	// {"name":"Zoë","emoji":"😀","n":[1,2.5]}
}

func ExampleAppendJS() {
	// Reuse one buffer across webhook deliveries: with enough capacity,
	// AppendJS does not allocate.
	buf := make([]byte, 0, 4096)
	for _, body := range []string{`{"id": 1, "ok": true}`, `{"id": 2.0, "tags": ["a", "b"]}`} {
		var err error
		buf, err = jsoncanon.AppendJS(buf[:0], []byte(body))
		if err != nil {
			panic(err)
		}
		fmt.Printf("%s\n", buf)
	}
	// Output:
	// {"id":1,"ok":true}
	// {"id":2,"tags":["a","b"]}
}

func ExampleSyntaxError() {
	_, err := jsoncanon.JS([]byte(`{"amount": 10, "currency": "usd",}`))
	var se *jsoncanon.SyntaxError
	if errors.As(err, &se) {
		fmt.Println("offset:", se.Offset)
		fmt.Println(err)
	}
	// Output:
	// offset: 33
	// jsoncanon: unexpected character '}' in object, expecting a string key at byte offset 33
}
