package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// ReplayKind is what a replay job does.
type ReplayKind string

const (
	// ReplayFailedKind makes failed (or canceled) deliveries pending again.
	ReplayFailedKind ReplayKind = "failed"
	// ReplayMissingKind creates the deliveries an endpoint missed (see
	// Replays.ReplayMissing).
	ReplayMissingKind ReplayKind = "missing"
)

// ReplayState is where a replay job stands.
type ReplayState string

const (
	ReplayQueued      ReplayState = "queued"    // created, no batch run yet
	ReplayRunning     ReplayState = "running"   // at least one batch run, not done
	ReplaySucceeded   ReplayState = "succeeded" // the whole window was walked
	ReplayFailedState ReplayState = "failed"    // stopped on an error (Error says which)
	ReplayCanceled    ReplayState = "canceled"  // canceled before it was done
)

// Done reports whether a job in state st runs no more.
func (st ReplayState) Done() bool {
	return st == ReplaySucceeded || st == ReplayFailedState || st == ReplayCanceled
}

// DefaultReplayBatch is the most deliveries (ReplayFailedKind) or events
// (ReplayMissingKind) one batch of a replay job looks at.
const DefaultReplayBatch = 500

// ReplayJob is a bulk replay that runs in the background, batch after
// batch, each batch one transaction that also saves Cursor and the counts,
// so that a job resumed after a restart continues where its last batch
// committed and never queues a delivery twice.
type ReplayJob struct {
	ID string // "rpl_…"
	// Tenant confines the job to one tenant's endpoints; nil means every
	// tenant (an admin key's job without endpoint nor tenant).
	Tenant *string
	// EndpointID, when set, is the only endpoint the job replays to;
	// "" means every endpoint of Tenant (disabled ones are skipped by a
	// ReplayMissingKind job).
	EndpointID string
	Kind       ReplayKind
	// Since and Until bound the creation of the deliveries
	// (ReplayFailedKind) or events (ReplayMissingKind): [Since, Until);
	// a zero Until means no upper bound.
	Since, Until time.Time
	// EventTypes, when not empty, narrows the replay to the event types
	// it accepts, as an endpoint's filter does ("invoice.*").
	EventTypes []string
	// Statuses are the delivery statuses a ReplayFailedKind job makes
	// pending again: StatusFailed and/or StatusCanceled; empty means
	// StatusFailed.
	Statuses []DeliveryStatus
	// Rate caps the deliveries the job queues per second; 0 is no cap.
	Rate int

	State   ReplayState
	Scanned int    // deliveries or events looked at so far
	Queued  int    // deliveries made pending or created so far
	Cursor  string // where the next batch starts; "" before the first
	Error   string // why the job failed

	CreatedAt  time.Time
	StartedAt  *time.Time
	FinishedAt *time.Time
	// NotBefore is when the next batch may run: the rate cap's pacing.
	NotBefore time.Time
}

// ReplayJobFilter selects replay jobs to list.
type ReplayJobFilter struct {
	Tenant *string // nil: any tenant's jobs (and those of every tenant)
	Page
}

// ReplayBatchParams says which job RunReplayBatch advances and how.
type ReplayBatchParams struct {
	JobID string
	// Node is the claimer's name, as ClaimReplayJob took it.
	Node string
	// Now is when the replayed deliveries are due.
	Now time.Time
	// LeaseUntil extends the claimer's lease on the job.
	LeaseUntil time.Time
	// Batch bounds what the batch looks at; 0 means DefaultReplayBatch.
	// The job's Rate bounds it too: a batch queues at most a second's
	// worth.
	Batch int
}

// ReplayBatchSize is the batch a job with rate cap rate runs, asked for
// batch (0: DefaultReplayBatch): no more than a second's worth.
func ReplayBatchSize(batch, rate int) int {
	if batch <= 0 {
		batch = DefaultReplayBatch
	}
	if rate > 0 && rate < batch {
		return rate
	}
	return batch
}

// ReplayPace is when the batch after one that queued n deliveries at now
// may run, with rate cap rate.
func ReplayPace(now time.Time, n, rate int) time.Time {
	if rate <= 0 || n <= 0 {
		return now
	}
	return now.Add(time.Duration(n) * time.Second / time.Duration(rate))
}

// ReplayJobs keeps replay jobs and runs their batches.
type ReplayJobs interface {
	// CreateReplayJob inserts j, queued; j.ID and CreatedAt must be set.
	// ErrConflict if the id exists.
	CreateReplayJob(ctx context.Context, j *ReplayJob) error
	// GetReplayJob returns the job or ErrNotFound.
	GetReplayJob(ctx context.Context, id string) (*ReplayJob, error)
	// ListReplayJobs returns a page of jobs, newest first, and the cursor
	// of the next page.
	ListReplayJobs(ctx context.Context, f ReplayJobFilter) ([]*ReplayJob, string, error)
	// CancelReplayJob cancels a job that is not done, at now, and returns
	// it: no batch of it commits after this one. ErrNotFound if there is
	// none; ErrConflict (with the job) if it is done already.
	CancelReplayJob(ctx context.Context, id string, now time.Time) (*ReplayJob, error)
	// ClaimReplayJob leases, to node until leaseUntil, the oldest queued
	// or running job whose NotBefore has passed at now and whose lease is
	// over (or is node's own), so that one node alone runs a job at a
	// time. It returns ErrNotFound if no job is ready. A job's first
	// claim sets StartedAt and makes it running.
	ClaimReplayJob(ctx context.Context, node string, now, leaseUntil time.Time) (*ReplayJob, error)
	// NextReplayJobAt returns the earliest NotBefore of the jobs not done,
	// and false if there are none.
	NextReplayJobAt(ctx context.Context) (time.Time, bool, error)
	// RunReplayBatch runs one batch of the job in one transaction: it
	// replays what the batch looked at, adds to Scanned and Queued, saves
	// the Cursor, paces NotBefore by the job's Rate, extends the lease,
	// and makes the job succeeded when the window is done. ErrLeaseLost
	// if the job is not running under p.Node's lease any more (it was
	// canceled, or another node took it); ErrNotFound if there is none.
	// It returns the job as the batch left it. An endpoint deleted
	// meanwhile is skipped.
	RunReplayBatch(ctx context.Context, p ReplayBatchParams) (*ReplayJob, error)
	// FailReplayJob makes a job that is not done failed with reason, at
	// now.
	FailReplayJob(ctx context.Context, id, reason string, now time.Time) error
}

// ReplayFailedParams says which deliveries ReplayFailedBatch makes
// pending again.
type ReplayFailedParams struct {
	EndpointID string
	// Since and Until bound the deliveries' creation: [Since, Until); a
	// zero Until means no upper bound.
	Since, Until time.Time
	// EventTypes, when not empty, narrows the deliveries to those of
	// event types it accepts ("invoice.*").
	EventTypes []string
	// Statuses: StatusFailed and/or StatusCanceled; empty means
	// StatusFailed.
	Statuses []DeliveryStatus
	// Now is when they are due.
	Now time.Time
	// After continues: the Next of the previous batch; "" for the first.
	After string
	// Batch bounds the deliveries one call looks at; 0 means
	// DefaultReplayBatch.
	Batch int
}

// ReplayStatuses returns statuses, or StatusFailed alone if it is empty,
// or an error if one is neither failed nor canceled.
func ReplayStatuses(statuses []DeliveryStatus) ([]DeliveryStatus, error) {
	if len(statuses) == 0 {
		return []DeliveryStatus{StatusFailed}, nil
	}
	for _, st := range statuses {
		if st != StatusFailed && st != StatusCanceled {
			return nil, fmt.Errorf("status %q cannot be replayed: only failed and canceled can", st)
		}
	}
	return statuses, nil
}

// ReplayResult says what one replay batch did.
type ReplayResult struct {
	// Scanned is how many deliveries (events) in the window the batch
	// looked at, whatever it did with them.
	Scanned int
	// Queued is how many deliveries it made pending (created).
	Queued int
	// Next continues with the next batch; "" when the window is done.
	Next string
}

// ReplayFailer makes failed deliveries pending again, batch by batch.
type ReplayFailer interface {
	// ReplayFailedBatch makes pending, due at p.Now, in one transaction,
	// the deliveries of the endpoint created in the window, oldest first,
	// whose status is one of p.Statuses and whose event type p.EventTypes
	// accepts, and whose event is not erased, looking at p.Batch of them
	// at most. Callers repeat it with p.After = Next until Next is "".
	// ErrNotFound if there is no such endpoint.
	ReplayFailedBatch(ctx context.Context, p ReplayFailedParams) (ReplayResult, error)
}

// ReplayJobCursor joins the endpoint a multi-endpoint job is at with the
// cursor within it.
func ReplayJobCursor(endpointID, inner string) string {
	if endpointID == "" {
		return inner
	}
	return endpointID + " " + inner
}

// ParseReplayJobCursor splits a ReplayJobCursor.
func ParseReplayJobCursor(s string) (endpointID, inner string) {
	endpointID, inner, _ = strings.Cut(s, " ")
	return endpointID, inner
}

// EncodeReplayList encodes a job's event types or statuses for a text
// column.
func EncodeReplayList[T ~string](v []T) string {
	if len(v) == 0 {
		return "[]"
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// DecodeReplayList decodes what EncodeReplayList wrote.
func DecodeReplayList[T ~string](s string, v *[]T) error {
	*v = nil
	if s == "" || s == "[]" {
		return nil
	}
	if err := json.Unmarshal([]byte(s), v); err != nil {
		return fmt.Errorf("decode replay list: %w", err)
	}
	return nil
}

// ReplayTypes returns whether eventType is one that types accept.
func ReplayTypes(types []string, eventType string) bool {
	return (&Endpoint{EventTypes: types}).Accepts(eventType)
}

// ReplayJobCols are the columns ScanReplayJob reads, in order.
const ReplayJobCols = `id, tenant, endpoint_id, kind, since, until, event_types, statuses, rate, state,
	scanned, queued, cursor, error, created_at, started_at, finished_at, not_before`

// ScanReplayJob reads a row of ReplayJobCols.
func ScanReplayJob(r RowScanner) (*ReplayJob, error) {
	var (
		j                         ReplayJob
		endpoint                  *string
		since, created, notBefore int64
		until, started, finished  *int64
		types, statuses, kind, st string
	)
	if err := r.Scan(&j.ID, &j.Tenant, &endpoint, &kind, &since, &until, &types, &statuses, &j.Rate, &st,
		&j.Scanned, &j.Queued, &j.Cursor, &j.Error, &created, &started, &finished, &notBefore); err != nil {
		return nil, err
	}
	j.Kind, j.State = ReplayKind(kind), ReplayState(st)
	if endpoint != nil {
		j.EndpointID = *endpoint
	}
	msTime := func(v int64) time.Time { return time.UnixMilli(v).UTC() }
	msPtr := func(v *int64) *time.Time {
		if v == nil {
			return nil
		}
		t := msTime(*v)
		return &t
	}
	j.Since, j.CreatedAt, j.NotBefore = msTime(since), msTime(created), msTime(notBefore)
	if until != nil {
		j.Until = msTime(*until)
	}
	j.StartedAt, j.FinishedAt = msPtr(started), msPtr(finished)
	if err := DecodeReplayList(types, &j.EventTypes); err != nil {
		return nil, fmt.Errorf("replay job %s: %w", j.ID, err)
	}
	if err := DecodeReplayList(statuses, &j.Statuses); err != nil {
		return nil, fmt.Errorf("replay job %s: %w", j.ID, err)
	}
	return &j, nil
}

// ReplayBatcher is what StepReplayJob asks of a store, inside the
// transaction of one batch.
type ReplayBatcher interface {
	// NextEndpoint returns the id of the endpoint after after (by id) of
	// tenant (nil: any), "" if there is none.
	NextEndpoint(tenant *string, after string) (string, error)
	// Failed runs one ReplayFailedBatch; ErrNotFound if the endpoint is
	// gone.
	Failed(p ReplayFailedParams) (ReplayResult, error)
	// Missing runs one ReplayMissing batch; ErrNotFound if the endpoint
	// is gone. With skipDisabled, a disabled endpoint is done at once.
	Missing(p ReplayMissingParams, skipDisabled bool) (ReplayMissingResult, error)
}

// StepReplayJob runs one batch of the running job j through b, for both
// stores, and updates j: its counts, Cursor, NotBefore and, when the
// window is done, State and FinishedAt. The caller saves j in the same
// transaction.
func StepReplayJob(j *ReplayJob, b ReplayBatcher, now time.Time, batch int) error {
	batch = ReplayBatchSize(batch, j.Rate)
	multi := j.EndpointID == ""
	epID, inner := j.EndpointID, j.Cursor
	if multi {
		epID, inner = ParseReplayJobCursor(j.Cursor)
		if epID == "" {
			next, err := b.NextEndpoint(j.Tenant, "")
			if err != nil {
				return err
			}
			if next == "" {
				finishReplayJob(j, now)
				return nil
			}
			epID = next
		}
	}
	var res ReplayResult
	var err error
	switch j.Kind {
	case ReplayFailedKind:
		res, err = b.Failed(ReplayFailedParams{EndpointID: epID, Since: j.Since, Until: j.Until, EventTypes: j.EventTypes,
			Statuses: j.Statuses, Now: now, After: inner, Batch: batch})
	case ReplayMissingKind:
		var m ReplayMissingResult
		m, err = b.Missing(ReplayMissingParams{EndpointID: epID, Since: j.Since, Until: j.Until, EventTypes: j.EventTypes,
			Now: now, After: inner, Batch: batch}, multi)
		res = ReplayResult{Scanned: m.Scanned, Queued: m.Created, Next: m.Next}
	default:
		return fmt.Errorf("replay job %s: unknown kind %q", j.ID, j.Kind)
	}
	if errors.Is(err, ErrNotFound) {
		res, err = ReplayResult{}, nil // the endpoint was deleted: nothing left to replay to it
	}
	if err != nil {
		return err
	}
	j.Scanned += res.Scanned
	j.Queued += res.Queued
	j.NotBefore = ReplayPace(now, res.Queued, j.Rate)
	if res.Next != "" {
		if multi {
			j.Cursor = ReplayJobCursor(epID, res.Next)
		} else {
			j.Cursor = res.Next
		}
		return nil
	}
	if !multi {
		finishReplayJob(j, now)
		return nil
	}
	next, err := b.NextEndpoint(j.Tenant, epID)
	if err != nil {
		return err
	}
	if next == "" {
		finishReplayJob(j, now)
		return nil
	}
	j.Cursor = ReplayJobCursor(next, "")
	return nil
}

func finishReplayJob(j *ReplayJob, now time.Time) {
	j.State = ReplaySucceeded
	j.FinishedAt = &now
}

// PlanReplayFailed decides, for both stores, which of the deliveries a
// ReplayFailedBatch looked at (oldest first, at most batch) it makes
// pending: those of p's statuses and event types whose event is not
// erased. It returns the batch's Scanned and Next; the caller sets
// Queued.
func PlanReplayFailed(p ReplayFailedParams, batch int, looked []ReplayFailedCandidate) (ReplayResult, []string) {
	res := ReplayResult{Scanned: len(looked)}
	if len(looked) == batch && batch > 0 {
		last := looked[len(looked)-1]
		res.Next = ReplayCursor(last.CreatedAt, last.ID)
	}
	statuses, _ := ReplayStatuses(p.Statuses)
	var ids []string
	for _, c := range looked {
		if c.Erased || !slices.Contains(statuses, c.Status) || !ReplayTypes(p.EventTypes, c.EventType) {
			continue
		}
		ids = append(ids, c.ID)
	}
	return res, ids
}

// ReplayFailedCandidate is a delivery a ReplayFailedBatch looked at.
type ReplayFailedCandidate struct {
	ID        string
	EventType string
	Status    DeliveryStatus
	CreatedAt int64 // Unix milliseconds
	Erased    bool  // its event's payload is erased: never delivered again
}
