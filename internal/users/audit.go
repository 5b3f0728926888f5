package users

import (
	"context"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/foremanhq/foreman/internal/audit"
	"github.com/foremanhq/foreman/jetstream"
)

// writeAudit appends rec (one audit.Record, the shape every writer of
// FM_AUDIT uses); a failure is logged, not returned: the operation
// happened (or was refused) either way.
func writeAudit(ctx context.Context, nc *nats.Conn, rec audit.Record, log *slog.Logger) {
	rec.Time = time.Now().UTC()
	if err := jetstream.AppendAuditOn(ctx, nc, rec); err != nil {
		log.Error("audit record not written", "action", rec.Action, "principal", rec.Principal, "err", err)
	}
}
