package users

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/foremanhq/foreman/internal/auth"
)

// The audit stream of AUTH-CONTRACT.md §5. The operator layer (issue 16,
// `actions`) owns it; until it exports a writer, user management writes
// records of the same JSON shape itself, and creates the stream when it is
// missing with the contract's defaults (never changing one that exists).
const (
	auditStream    = "FM_AUDIT"
	auditSubject   = "fm.audit.admin" // + .<op>
	auditRetention = 90 * 24 * time.Hour
)

type auditRecord struct {
	Time      time.Time `json:"time"`
	Principal string    `json:"principal"` // the requester: its subject token, checked by NATS
	Role      auth.Role `json:"role,omitempty"`
	// Action is "users.<op>"; Targets the user it is about.
	Action     string   `json:"action"`
	Targets    []string `json:"targets,omitempty"`
	Reason     string   `json:"reason,omitempty"`
	OnBehalfOf string   `json:"on_behalf_of,omitempty"`
	BatchID    string   `json:"batch_id,omitempty"`
	// Outcome is "ok", "refused: <why>" or "failed: <error>".
	Outcome string `json:"outcome"`
}

// writeAudit appends rec; a failure is logged, not returned: the
// operation happened (or was refused) either way.
func writeAudit(ctx context.Context, nc *nats.Conn, rec auditRecord, log *slog.Logger) {
	rec.Time = time.Now().UTC()
	data, err := json.Marshal(rec)
	if err == nil {
		err = appendAudit(ctx, nc, auditSubject+"."+rec.Action[len("users."):], data)
	}
	if err != nil {
		log.Error("audit record not written", "action", rec.Action, "principal", rec.Principal, "err", err)
	}
}

func appendAudit(ctx context.Context, nc *nats.Conn, subj string, data []byte) error {
	js, err := natsjs.New(nc)
	if err != nil {
		return err
	}
	_, err = js.Publish(ctx, subj, data)
	if !errors.Is(err, natsjs.ErrNoStreamResponse) {
		return err
	}
	_, err = js.CreateStream(ctx, natsjs.StreamConfig{
		Name: auditStream, Description: "Foreman audit: operator actions and refusals",
		Subjects: []string{"fm.audit.>"}, Storage: natsjs.FileStorage, MaxAge: auditRetention,
		// Append-only: nothing is removed but by age.
		DenyDelete: true, DenyPurge: true,
	})
	if err != nil && !errors.Is(err, natsjs.ErrStreamNameAlreadyInUse) {
		return err
	}
	_, err = js.Publish(ctx, subj, data)
	return err
}
