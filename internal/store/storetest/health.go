package storetest

import "github.com/hookrelay/hookrelay/internal/store"

// testHealth checks that the store implements store.HealthChecker and
// reports a store that writes as healthy.
func testHealth(h *harness) {
	hc, ok := h.s.(store.HealthChecker)
	if !ok {
		h.Fatalf("%T does not implement store.HealthChecker", h.s)
	}
	h.endpoint("", nil)
	if err := hc.Health(h.ctx); err != nil {
		h.Fatalf("Health of a store that writes: %v", err)
	}
}
