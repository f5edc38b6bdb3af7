package main

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"runtime/debug"
)

// version is the release this binary was built from. Release builds
// (scripts/build.sh) stamp it with the output of "git describe --tags
// --always --dirty":
//
//	go build -ldflags "-X main.version=$(git describe --tags --always --dirty)" ./cmd/hookrelay
//
// When it is empty, buildVersion falls back to what the Go toolchain
// recorded about the module and its VCS checkout.
var version string

// buildVersion returns the stamped version, or else one derived from the
// binary's build information: the module version when it was installed with
// "go install module@version", otherwise the VCS revision (with "-dirty"
// when the checkout had changes), otherwise "devel".
func buildVersion() string {
	if version != "" {
		return version
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "devel"
	}
	return versionFromBuildInfo(info)
}

// versionFromBuildInfo is buildVersion's fallback, separate so that tests
// can give it build information of their own.
func versionFromBuildInfo(info *debug.BuildInfo) string {
	if v := info.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	var rev string
	var dirty bool
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev == "" {
		return "devel"
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if dirty {
		rev += "-dirty"
	}
	return rev
}

func runVersion(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("version", e.stderr)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: hookrelay version\n\nPrints the version this binary was built from, and the Go toolchain that built it.")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	if _, err := fmt.Fprintf(e.stdout, "hookrelay %s %s %s/%s\n", buildVersion(), runtime.Version(), runtime.GOOS, runtime.GOARCH); err != nil {
		return fmt.Errorf("write output: %w", err)
	}
	return nil
}

// healthzVersion is buildVersion as a JSON string, for /healthz.
func healthzVersion() []byte {
	b, err := json.Marshal(buildVersion())
	if err != nil {
		// A Go string always marshals; keep /healthz valid JSON regardless.
		return []byte(`"unknown"`)
	}
	return b
}
