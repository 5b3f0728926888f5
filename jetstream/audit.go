package jetstream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/foremanhq/foreman/internal/audit"
)

var _ audit.Log = (*Store)(nil)

// auditConfig is the audit stream: append-only (no deletes, no purges by
// API), records kept for retention.
func auditConfig(o Options, retention time.Duration) natsjs.StreamConfig {
	return natsjs.StreamConfig{
		Name:        audit.Stream,
		Description: "Foreman audit trail: every operator action and refusal",
		Subjects:    []string{audit.SubjectPrefix + ">"},
		Storage:     natsjs.FileStorage,
		Retention:   natsjs.LimitsPolicy,
		MaxAge:      retention,
		MaxMsgs:     -1,
		MaxBytes:    -1,
		MaxMsgSize:  -1,
		Duplicates:  duplicateWindow,
		DenyDelete:  true,
		DenyPurge:   true,
		Replicas:    o.Replicas,
	}
}

// EnableAudit creates (or updates the retention of) the audit stream; the
// engine calls it at start with --audit-retention.
func (s *Store) EnableAudit(ctx context.Context, retention time.Duration) error {
	if retention <= 0 {
		retention = audit.DefaultRetention
	}
	ctx, cancel := withDefaultTimeout(ctx, 30*time.Second)
	defer cancel()
	_, err := retrySetup(ctx, func(ctx context.Context) (natsjs.Stream, error) {
		return ensureStream(ctx, s.js, auditConfig(s.opts, retention))
	})
	return err
}

// AppendAudit appends one record (msgID, when set, deduplicates a retry).
func (s *Store) AppendAudit(ctx context.Context, r audit.Record, msgID string) error {
	return appendAudit(ctx, s.js, r, msgID)
}

// AppendAuditOn appends r through nc, creating the audit stream with the
// default retention when it is missing: for writers without a Store (user
// management, whose --direct mode runs before any engine set the stream up).
func AppendAuditOn(ctx context.Context, nc *nats.Conn, r audit.Record) error {
	js, err := natsjs.New(nc)
	if err != nil {
		return fmt.Errorf("appending to %s: %w", audit.Stream, err)
	}
	err = appendAudit(ctx, js, r, "")
	if !errors.Is(err, natsjs.ErrNoStreamResponse) {
		return err
	}
	ctx, cancel := withRequestTimeout(ctx, defaultTimeout)
	defer cancel()
	if _, err := ensureStream(ctx, js, auditConfig(Options{}, audit.DefaultRetention)); err != nil {
		return fmt.Errorf("creating %s: %w", audit.Stream, err)
	}
	return appendAudit(ctx, js, r, "")
}

func appendAudit(ctx context.Context, js natsjs.JetStream, r audit.Record, msgID string) error {
	data, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("encoding an audit record: %w", err)
	}
	ctx, cancel := withRequestTimeout(ctx, defaultTimeout)
	defer cancel()
	var opts []natsjs.PublishOpt
	if msgID != "" {
		opts = append(opts, natsjs.WithMsgID(msgID))
	}
	if _, err := js.PublishMsg(ctx, &nats.Msg{Subject: r.Subject(), Data: data}, opts...); err != nil {
		return fmt.Errorf("appending to %s: %w", audit.Stream, err)
	}
	return nil
}

// ReadAudit calls fn with every audit record, oldest first; with follow it
// then waits for new ones until ctx ends (returning nil), else it returns
// once it read them all.
func (s *Store) ReadAudit(ctx context.Context, follow bool, fn func(audit.Record) error) error {
	st, err := s.js.Stream(ctx, audit.Stream)
	if errors.Is(err, natsjs.ErrStreamNotFound) {
		return fmt.Errorf("no audit trail: %s does not exist (is foreman-engine running?)", audit.Stream)
	}
	if err != nil {
		return fmt.Errorf("reading the audit trail: %w", err)
	}
	last := st.CachedInfo().State.LastSeq
	if last == 0 && !follow {
		return nil
	}
	c, err := st.OrderedConsumer(ctx, natsjs.OrderedConsumerConfig{})
	if err != nil {
		return fmt.Errorf("reading the audit trail: %w", err)
	}
	for {
		m, err := c.Next(natsjs.FetchMaxWait(time.Second))
		if errors.Is(err, natsjs.ErrMsgIteratorClosed) || ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, nats.ErrTimeout) || errors.Is(err, context.DeadlineExceeded) {
			continue
		}
		if err != nil {
			return fmt.Errorf("reading the audit trail: %w", err)
		}
		var r audit.Record
		if json.Unmarshal(m.Data(), &r) == nil {
			if err := fn(r); err != nil {
				return err
			}
		}
		md, err := m.Metadata()
		if err == nil && !follow && md.Sequence.Stream >= last {
			return nil
		}
	}
}
