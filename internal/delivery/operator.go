package delivery

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/hookrelay/hookrelay/internal/store"
	"github.com/hookrelay/hookrelay/signature"
)

// operatorQueue is how many operational webhooks may wait to be sent; more
// are dropped (and logged): they must never hold up deliveries.
const operatorQueue = 1024

// operatorRetries are the delays between the attempts to send one
// operational webhook.
var operatorRetries = []time.Duration{time.Second, 5 * time.Second}

// OperationalEvent is the JSON body of an operational webhook.
type OperationalEvent struct {
	ID        string         `json:"id"`
	Type      string         `json:"type"` // endpoint.disabled, delivery.exhausted or delivery.recovered
	Timestamp time.Time      `json:"timestamp"`
	Data      map[string]any `json:"data"`
}

// operator sends operational webhooks, best effort.
type operator struct {
	url     string
	scheme  *signature.Scheme
	secrets []string
	client  *http.Client
	log     *slog.Logger
	queue   chan OperationalEvent
}

func newOperator(cfg Config, log *slog.Logger) (*operator, error) {
	name := cfg.OperatorScheme
	if name == "" {
		name = "standard"
	}
	s, err := signature.Lookup(name)
	if err != nil {
		return nil, fmt.Errorf("delivery: operator scheme: %w", err)
	}
	if _, err := parseURL(cfg.OperatorURL); err != nil {
		return nil, fmt.Errorf("delivery: operator URL: %w", err)
	}
	return &operator{
		url:     cfg.OperatorURL,
		scheme:  s,
		secrets: cfg.OperatorSecrets,
		client:  NewHTTPClient(true, cfg.RequestTimeout),
		log:     log,
		queue:   make(chan OperationalEvent, operatorQueue),
	}, nil
}

// emit queues an event without blocking; a full queue drops it.
func (o *operator) emit(typ string, at time.Time, data map[string]any) {
	ev := OperationalEvent{ID: store.NewID("op"), Type: typ, Timestamp: at.UTC(), Data: data}
	select {
	case o.queue <- ev:
	default:
		o.log.Warn("operational webhook dropped: queue full", "type", typ)
	}
}

// run sends queued events until ctx is done.
func (o *operator) run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case ev := <-o.queue:
			o.send(ctx, ev)
		}
	}
}

// drain sends what is queued for at most d.
func (o *operator) drain(d time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	for {
		select {
		case ev := <-o.queue:
			o.send(ctx, ev)
		default:
			return
		}
	}
}

func (o *operator) send(ctx context.Context, ev OperationalEvent) {
	body, err := json.Marshal(ev)
	if err != nil {
		o.log.Error("operational webhook: encode", "type", ev.Type, "err", err)
		return
	}
	for try := 0; ; try++ {
		err = o.sendOnce(ctx, ev, body)
		if err == nil || try == len(operatorRetries) || ctx.Err() != nil {
			break
		}
		var he *HTTPError
		if errors.As(err, &he) && !Retryable(he.StatusCode) {
			break
		}
		t := time.NewTimer(operatorRetries[try])
		select {
		case <-ctx.Done():
		case <-t.C:
		}
		t.Stop()
	}
	if err != nil {
		o.log.Warn("operational webhook not delivered", "type", ev.Type, "err", err)
	}
}

func (o *operator) sendOnce(ctx context.Context, ev OperationalEvent, body []byte) error {
	signed := signature.Signed{Body: body, Header: http.Header{}}
	if len(o.secrets) > 0 {
		var err error
		signed, err = o.scheme.Sign(signature.Message{ID: ev.ID, Timestamp: time.Now(), Payload: body}, o.secrets...)
		if err != nil {
			return fmt.Errorf("sign: %w", err)
		}
	}
	_, err := send(ctx, o.client, o.url, signed, 1024)
	return err
}
