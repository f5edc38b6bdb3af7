package main

import (
	"bufio"
	"context"
	"debug/buildinfo"
	"debug/elf"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
	"time"
)

func TestVersionFromBuildInfo(t *testing.T) {
	t.Parallel()
	vcs := func(rev, modified string) []debug.BuildSetting {
		return []debug.BuildSetting{{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: rev}, {Key: "vcs.modified", Value: modified}}
	}
	tests := map[string]struct {
		info debug.BuildInfo
		want string
	}{
		"go install module@version": {debug.BuildInfo{Main: debug.Module{Version: "v1.4.0"}}, "v1.4.0"},
		"clean checkout":            {debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: vcs("0123456789abcdef0123", "false")}, "0123456789ab"},
		"changed checkout":          {debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: vcs("0123456789abcdef0123", "true")}, "0123456789ab-dirty"},
		"short revision":            {debug.BuildInfo{Settings: vcs("abc", "false")}, "abc"},
		"no vcs information":        {debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, "devel"},
	}
	for name, tt := range tests {
		if got := versionFromBuildInfo(&tt.info); got != tt.want {
			t.Errorf("%s: got %q, want %q", name, got, tt.want)
		}
	}
}

func TestVersionCommand(t *testing.T) {
	t.Parallel()
	e, out, errb := testEnv(nil, "")
	if code := run(context.Background(), e, []string{"version"}); code != 0 {
		t.Fatalf("exit %d: %s", code, errb)
	}
	want := fmt.Sprintf("hookrelay %s %s %s/%s\n", buildVersion(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
	if out.String() != want {
		t.Errorf("got %q, want %q", out, want)
	}
	if code := run(context.Background(), e, []string{"version", "extra"}); code != 2 {
		t.Errorf("version extra: exit %d, want 2", code)
	}
}

// checkStatic returns an error unless the ELF file at path is statically
// linked: no program interpreter (PT_INTERP, the dynamic loader) and no
// dynamic section (PT_DYNAMIC, which lists the shared libraries to load).
// That is what file(1) reports as "statically linked".
func checkStatic(path string) error {
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		switch p.Type {
		case elf.PT_INTERP:
			return errors.New("has a program interpreter (PT_INTERP): dynamically linked")
		case elf.PT_DYNAMIC:
			return errors.New("has a dynamic section (PT_DYNAMIC): dynamically linked")
		}
	}
	if libs, err := f.ImportedLibraries(); err == nil && len(libs) > 0 {
		return fmt.Errorf("needs shared libraries %v", libs)
	}
	return nil
}

// TestCheckStatic shows checkStatic can fail: the system's shell is a
// dynamically linked executable on every distribution the tests run on.
func TestCheckStatic(t *testing.T) {
	t.Parallel()
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh to compare with")
	}
	sh, _ = filepath.EvalSymlinks(sh)
	if err := checkStatic(sh); err == nil {
		t.Errorf("checkStatic(%s) = nil; want it found dynamically linked", sh)
	}
}

// TestReleaseBuild builds the binary with scripts/build.sh, as a release is
// built, and checks what the README promises of it: statically linked,
// built with -trimpath and without cgo, the version stamped into "hookrelay
// version" and /healthz, and "hookrelay healthcheck" passing against it.
func TestReleaseBuild(t *testing.T) {
	t.Parallel()
	if runtime.GOOS != "linux" {
		t.Skip("the release build is checked on linux (ELF)")
	}
	const stamp = "v0.0.0-releasetest"
	exe := filepath.Join(t.TempDir(), "hookrelay")
	build := exec.Command("bash", filepath.Join("..", "..", "scripts", "build.sh"))
	build.Env = append(os.Environ(), "OUT="+exe, "VERSION="+stamp)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("scripts/build.sh: %v\n%s", err, out)
	}

	if err := checkStatic(exe); err != nil {
		t.Errorf("release binary: %v", err)
	}
	if file, err := exec.LookPath("file"); err == nil {
		out, err := exec.Command(file, exe).Output()
		if err != nil {
			t.Errorf("file: %v", err)
		} else if !strings.Contains(string(out), "statically linked") {
			t.Errorf("file says %s", out)
		}
	}
	bi, err := buildinfo.ReadFile(exe)
	if err != nil {
		t.Fatalf("read build info: %v", err)
	}
	settings := map[string]string{}
	for _, s := range bi.Settings {
		settings[s.Key] = s.Value
	}
	if settings["CGO_ENABLED"] != "0" || settings["-trimpath"] != "true" {
		t.Errorf("build settings CGO_ENABLED=%q -trimpath=%q, want 0 and true", settings["CGO_ENABLED"], settings["-trimpath"])
	}

	out, err := exec.Command(exe, "version").Output()
	if err != nil {
		t.Fatalf("hookrelay version: %v", err)
	}
	if !strings.HasPrefix(string(out), "hookrelay "+stamp+" ") {
		t.Errorf("hookrelay version: %q, want the stamp %s", out, stamp)
	}

	// Run it, and read /healthz's version and the healthcheck's verdict.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	serve := exec.CommandContext(ctx, exe, "serve", "--addr", "127.0.0.1:0", "--data", t.TempDir())
	serve.Env = append(os.Environ(), "HOOKRELAY_ADMIN_KEY=hr_test_admin_key_0123456789")
	stderr, err := serve.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := serve.Start(); err != nil {
		t.Fatalf("start serve: %v", err)
	}
	t.Cleanup(func() {
		serve.Process.Signal(os.Interrupt)
		serve.Wait()
	})
	urls := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if m := listeningLine.FindStringSubmatch(sc.Text()); m != nil {
				urls <- m[1]
				break
			}
		}
		io.Copy(io.Discard, stderr)
		close(urls)
	}()
	var base string
	select {
	case u, ok := <-urls:
		if !ok {
			t.Fatal("serve exited before it listened")
		}
		base = u
	case <-ctx.Done():
		t.Fatal("serve did not listen in time")
	}
	hc := exec.CommandContext(ctx, exe, "healthcheck", "--url", base+"/healthz")
	hcOut, err := hc.CombinedOutput()
	if err != nil {
		t.Fatalf("hookrelay healthcheck: %v: %s", err, hcOut)
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/healthz", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var health struct{ Status, Store, Version string }
	if err := json.NewDecoder(resp.Body).Decode(&health); err != nil {
		t.Fatalf("decode /healthz: %v", err)
	}
	if resp.StatusCode != 200 || health.Status != "ok" || health.Version != stamp {
		t.Errorf("/healthz: %d %+v, want 200 ok with version %s", resp.StatusCode, health, stamp)
	}
}
