package delivery

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hookrelay/hookrelay/internal/store"
	"github.com/hookrelay/hookrelay/signature"
)

// Operator says where operational webhooks go (see store.OperatorTenant):
// the operator endpoint that SyncOperator keeps.
type Operator struct {
	// URL receives them; an absolute http or https URL. It is trusted
	// configuration: the private-network guard does not apply to it.
	URL string
	// Scheme signs them; "" means "standard".
	Scheme string
	// Secrets sign them, newest first; none sends them unsigned (scheme
	// "none").
	Secrets []string
}

// SyncOperator makes the store's operator endpoint (store.OperatorEndpointID,
// of store.OperatorTenant) what op says, as serve starts: it creates it,
// or updates its URL, scheme and secrets and enables it again if it was
// disabled (an operator endpoint auto-disabled while it was down starts
// afresh). A nil op deletes it, which cancels the operational webhooks not
// yet sent; from then on none is written. The store writes operational
// webhooks only while the endpoint exists and is enabled.
func SyncOperator(ctx context.Context, st store.Store, op *Operator, now time.Time) error {
	now = now.UTC().Truncate(time.Millisecond)
	if op == nil {
		err := st.DeleteEndpoint(ctx, store.OperatorEndpointID)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("delete the operator endpoint: %w", err)
		}
		return nil
	}
	scheme := op.Scheme
	if scheme == "" {
		scheme = "standard"
	}
	if _, err := signature.Lookup(scheme); err != nil {
		return fmt.Errorf("operator scheme: %w", err)
	}
	if _, err := parseURL(op.URL); err != nil {
		return fmt.Errorf("operator URL: %w", err)
	}
	if len(op.Secrets) == 0 {
		scheme = "none"
	}
	secrets := make([]store.Secret, len(op.Secrets))
	for i, s := range op.Secrets {
		secrets[i] = store.Secret{Value: s, CreatedAt: now}
	}
	update := func() error {
		_, err := st.UpdateEndpoint(ctx, store.OperatorEndpointID, func(e *store.Endpoint) (store.EndpointPatch, error) {
			p := store.EndpointPatch{URL: &op.URL, Scheme: &scheme, Enabled: new(true), UpdatedAt: now}
			if !sameSecrets(e.Secrets, op.Secrets) {
				p.Secrets = &secrets
			}
			return p, nil
		})
		return err
	}
	err := update()
	if !errors.Is(err, store.ErrNotFound) {
		if err != nil {
			return fmt.Errorf("update the operator endpoint: %w", err)
		}
		return nil
	}
	err = st.CreateEndpoint(ctx, &store.Endpoint{
		ID:          store.OperatorEndpointID,
		Tenant:      store.OperatorTenant,
		URL:         op.URL,
		Description: "operational webhooks (serve --operator-url)",
		Scheme:      scheme,
		Secrets:     secrets,
		CreatedAt:   now,
		UpdatedAt:   now,
	})
	if errors.Is(err, store.ErrConflict) {
		// Another node sharing the database created it meanwhile.
		err = update()
	}
	if err != nil {
		return fmt.Errorf("create the operator endpoint: %w", err)
	}
	return nil
}

// sameSecrets reports whether stored holds exactly the values want, in
// order: a restart with the same secret keeps its creation time.
func sameSecrets(stored []store.Secret, want []string) bool {
	if len(stored) != len(want) {
		return false
	}
	for i, s := range stored {
		if s.Value != want[i] {
			return false
		}
	}
	return true
}
