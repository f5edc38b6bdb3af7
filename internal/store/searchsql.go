package store

import (
	"strings"
)

// The SQL of ListEvents, the same for both stores but for placeholders:
// ph(n) is the n-th one ("?" for SQLite, "$n" for PostgreSQL).

// ListEventsQuery builds the query of ListEvents for the columns cols of
// events (unqualified, comma-separated), asking for limit+1 rows. It
// orders by (created_at, id) newest first, so that each filter walks an
// index in order: events_created, events_type_created,
// events_tenant_time, events_tenant_type_created, or, with a payload
// match, event_fields_lookup (driving the join: CROSS JOIN keeps SQLite's
// planner from reordering it). A type prefix ("invoice.*") is a range of
// types and its rows are sorted. f's cursor must parse (ParseEventCursor).
func ListEventsQuery(f EventFilter, cols string, limit int, ph func(int) string) (string, []any, error) {
	var (
		where []string
		args  []any
	)
	arg := func(v any) string {
		args = append(args, v)
		return ph(len(args))
	}
	add := func(cond string, v any) { where = append(where, cond+" "+arg(v)) }
	// Ordering columns: the event's, or its first field row's.
	at, id := "e.created_at", "e.id"
	from := "events e"
	if len(f.Payload) > 0 {
		at, id = "f.created_at", "f.event_id"
		from = "event_fields f CROSS JOIN events e"
		m := f.Payload[0]
		add("f.path =", m.Path)
		add("f.value_key =", m.Key)
		where = append(where, "e.id = f.event_id")
		for _, m := range f.Payload[1:] {
			where = append(where, "EXISTS (SELECT 1 FROM event_fields g WHERE g.event_id = f.event_id AND g.path = "+
				arg(m.Path)+" AND g.value_key = "+arg(m.Key)+")")
		}
	}
	if f.Tenant != nil {
		add("e.tenant =", *f.Tenant)
	}
	if p, ok := TypePrefix(f.Type); ok {
		add("e.event_type >=", p)
		add("e.event_type <", PrefixEnd(p))
	} else if f.Type != "" {
		add("e.event_type =", f.Type)
	}
	if !f.Since.IsZero() {
		add(at+" >=", f.Since.UnixMilli())
	}
	if !f.Until.IsZero() {
		add(at+" <", f.Until.UnixMilli())
	}
	if f.EndpointID != "" || f.Status != "" {
		c := "EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = e.id"
		if f.EndpointID != "" {
			c += " AND d.endpoint_id = " + arg(f.EndpointID)
		}
		if f.Status != "" {
			c += " AND d.status = " + arg(string(f.Status))
		}
		where = append(where, c+")")
	}
	if f.Cursor != "" {
		cat, cid, err := ParseEventCursor(f.Cursor)
		if err != nil {
			return "", nil, err
		}
		where = append(where, "("+at+", "+id+") < ("+arg(cat)+", "+arg(cid)+")")
	}
	var sel []string
	for c := range strings.SplitSeq(cols, ",") {
		sel = append(sel, "e."+strings.TrimSpace(c))
	}
	q := "SELECT " + strings.Join(sel, ", ") + " FROM " + from
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY " + at + " DESC, " + id + " DESC LIMIT " + arg(limit+1)
	return q, args, nil
}

// DeliveryPayloadConds returns the conditions on deliveries of ms, with
// their arguments numbered after the n already taken.
func DeliveryPayloadConds(ms []FieldMatch, n int, ph func(int) string) ([]string, []any) {
	var (
		where []string
		args  []any
	)
	for _, m := range ms {
		args = append(args, m.Path, m.Key)
		where = append(where, "event_id IN (SELECT event_id FROM event_fields WHERE path = "+ph(n+len(args)-1)+
			" AND value_key = "+ph(n+len(args))+")")
	}
	return where, args
}
