package sqlite

import (
	"errors"
	"time"

	"github.com/hookrelay/hookrelay/internal/store"
)

// operational writes, in the running write, an operational webhook of
// type typ with data: an event of store.OperatorTenant and its delivery to
// the operator endpoint, due at at. Without an enabled operator endpoint
// it writes nothing. See store.OperatorTenant.
func (w *writer) operational(typ string, at time.Time, data map[string]any) error {
	op, err := w.endpoint(store.OperatorEndpointID)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if op.Disabled {
		return nil
	}
	ev, err := store.NewOperationalEvent(w.ids.next("evt"), typ, at, data)
	if err != nil {
		return err
	}
	created := ms(ev.CreatedAt)
	if _, err := w.exec(`INSERT INTO events (`+eventCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		ev.ID, ev.Tenant, ev.Type, string(ev.Payload), nil, created, "", nil, ev.TraceParent); err != nil {
		return err
	}
	_, err = w.exec(`INSERT INTO deliveries (id, event_id, endpoint_id, tenant, event_type, status,
		next_attempt_at, claim, hold, fifo, created_at, updated_at) VALUES (?, ?, ?, ?, ?, 'pending', ?, 0, 0, 0, ?, ?)`,
		w.ids.next("dlv"), ev.ID, op.ID, ev.Tenant, ev.Type, created, created, created)
	return err
}
