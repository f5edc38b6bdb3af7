package delivery

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hookrelay/hookrelay/internal/store"
)

// metrics are the engine's Prometheus metrics, all prefixed hookrelay_.
type metrics struct {
	deliveries *prometheus.CounterVec
	duration   prometheus.Histogram
	inflight   prometheus.Gauge
	prunedRows *prometheus.CounterVec

	mu       sync.Mutex
	counters map[[2]string]prometheus.Counter // (outcome, scheme) → child, to skip label hashing
}

func newMetrics(reg prometheus.Registerer, stats func(context.Context) (store.QueueStats, error)) (*metrics, error) {
	m := &metrics{
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "hookrelay", Name: "deliveries_total",
			Help: "Delivery attempts recorded, by outcome (success, retry, failed) and signature scheme.",
		}, []string{"outcome", "scheme"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "hookrelay", Name: "attempt_duration_seconds",
			Help:    "Duration of delivery attempts, from sending the request to reading the response.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 15, 30},
		}),
		inflight: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "hookrelay", Name: "inflight",
			Help: "Delivery requests in flight on this node.",
		}),
		prunedRows: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "hookrelay", Name: "pruned_total",
			Help: "Rows of history deleted by retention, by table (attempts, deliveries, idempotency_keys, events).",
		}, []string{"table"}),
		counters: make(map[[2]string]prometheus.Counter),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.deliveries, m.duration, m.inflight, m.prunedRows, &queueCollector{stats: stats}} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("delivery: register metrics: %w", err)
		}
	}
	return m, nil
}

func (m *metrics) delivered(outcome, scheme string) {
	k := [2]string{outcome, scheme}
	m.mu.Lock()
	c, ok := m.counters[k]
	if !ok {
		c = m.deliveries.WithLabelValues(outcome, scheme)
		m.counters[k] = c
	}
	m.mu.Unlock()
	c.Inc()
}

// pruned counts what one Prune deleted.
func (m *metrics) pruned(r store.PruneResult) {
	for table, n := range map[string]int64{
		"attempts": r.Attempts, "deliveries": r.Deliveries, "idempotency_keys": r.IdempotencyKeys, "events": r.Events,
	} {
		if n > 0 {
			m.prunedRows.WithLabelValues(table).Add(float64(n))
		}
	}
}

var (
	descPending = prometheus.NewDesc("hookrelay_queue_pending", "Deliveries waiting for an attempt (or in flight).", nil, nil)
	descDue     = prometheus.NewDesc("hookrelay_queue_due", "Pending deliveries that are due now.", nil, nil)
	descOldest  = prometheus.NewDesc("hookrelay_queue_oldest_due_age_seconds", "How long the oldest due delivery has been waiting.", nil, nil)
	descDisab   = prometheus.NewDesc("hookrelay_endpoints_disabled", "Endpoints that are disabled.", nil, nil)
)

// queueCollector reads the queue gauges from the store at scrape time.
type queueCollector struct {
	stats func(context.Context) (store.QueueStats, error)
}

func (q *queueCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descPending
	ch <- descDue
	ch <- descOldest
	ch <- descDisab
}

func (q *queueCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := q.stats(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(descPending, fmt.Errorf("queue stats: %w", err))
		return
	}
	ch <- prometheus.MustNewConstMetric(descPending, prometheus.GaugeValue, float64(s.Pending))
	ch <- prometheus.MustNewConstMetric(descDue, prometheus.GaugeValue, float64(s.Due))
	ch <- prometheus.MustNewConstMetric(descOldest, prometheus.GaugeValue, s.OldestDueAge.Seconds())
	ch <- prometheus.MustNewConstMetric(descDisab, prometheus.GaugeValue, float64(s.DisabledEndpoints))
}
