package main

import (
	"context"
	"encoding/json"
	"os/exec"
	"testing"
	"time"
)

// TestBenchRuns runs a small "hookrelay bench" end to end (the built
// binary, real serve processes, a loopback sink) and checks that every phase
// reports what it measured.
func TestBenchRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the service")
	}
	exe := buildBinary(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, exe, "bench", "--events", "400", "--concurrency", "8",
		"--rate", "200", "--latency-duration", "1s", "--drain", "300", "--data", t.TempDir(), "--json")
	out, err := cmd.Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			t.Fatalf("bench: %v\n%s", err, ee.Stderr)
		}
		t.Fatalf("bench: %v", err)
	}
	var r benchResults
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("decode %s: %v", out, err)
	}
	if r.BarePerSec <= 0 || r.AcceptedPerSec <= 0 || r.DeliveredPerSec <= 0 || r.CPUMsPerDelivery <= 0 {
		t.Errorf("throughput phase incomplete: %+v", r)
	}
	if r.LatencyRate != 200 || r.P99Ms <= 0 || r.P99Ms < r.P50Ms {
		t.Errorf("latency phase: rate %d, p50 %v, p99 %v", r.LatencyRate, r.P50Ms, r.P99Ms)
	}
	if r.Drain != 300 || r.DrainPerSec <= 0 || r.DrainCPUMsPerDelivery <= 0 {
		t.Errorf("drain phase: %d deliveries, %v/s, %v CPU-ms", r.Drain, r.DrainPerSec, r.DrainCPUMsPerDelivery)
	}
	if r.Duplicates != 0 || r.DrainDuplicates != 0 {
		t.Errorf("duplicates: %d in the throughput phase, %d in the drain", r.Duplicates, r.DrainDuplicates)
	}
	if r.PeakRSSMB <= 0 {
		t.Errorf("peak RSS %v", r.PeakRSSMB)
	}
}

// TestBenchBatchRuns: bench --batch sends the throughput phase in batch
// requests and every event is delivered once.
func TestBenchBatchRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the service")
	}
	exe := buildBinary(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, exe, "bench", "--events", "450", "--concurrency", "4", "--batch", "100",
		"--latency-duration", "0", "--drain", "0", "--data", t.TempDir(), "--json")
	out, err := cmd.Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			t.Fatalf("bench: %v\n%s", err, ee.Stderr)
		}
		t.Fatalf("bench: %v", err)
	}
	var r benchResults
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("decode %s: %v", out, err)
	}
	if r.Batch != 100 || r.AcceptedPerSec <= 0 || r.DeliveredPerSec <= 0 || r.CPUMsPerDelivery <= 0 || r.Duplicates != 0 {
		t.Errorf("batched throughput phase: %+v", r)
	}
}
