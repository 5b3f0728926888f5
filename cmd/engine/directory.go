package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/internal/actwire"
	"github.com/foremanhq/foreman/internal/auth"
	"github.com/foremanhq/foreman/jetstream"
	"github.com/foremanhq/foreman/operator"
)

// standInDirectory says who a user is until the user directory of issue
// 16 (users add/revoke, KV fm_users) is wired in its place: every
// connection holds the engine's local credentials, which are admin, so an
// unlisted user is admin; <data>/auth/roles.json, read on every request
// (a change applies at once), gives listed users another role and their
// groups: {"vera": {"role": "viewer"}, "bob": {"role": "approver",
// "groups": ["finance"]}}. A user listed with role "revoked" is refused.
type standInDirectory struct{ path string }

func newStandInDirectory(dataDir string) auth.Directory {
	return standInDirectory{path: filepath.Join(dataDir, "auth", "roles.json")}
}

func (d standInDirectory) Lookup(_ context.Context, user string) (auth.Principal, error) {
	if err := auth.ValidUser(user); err != nil {
		return auth.Principal{}, fmt.Errorf("%w: %v", auth.ErrUnknownUser, err)
	}
	p := auth.Principal{User: user, Role: auth.Admin}
	data, err := os.ReadFile(d.path)
	if errors.Is(err, os.ErrNotExist) {
		return p, nil
	}
	if err != nil {
		return auth.Principal{}, fmt.Errorf("reading %s: %w", d.path, err)
	}
	var users map[string]struct {
		Role   string   `json:"role"`
		Groups []string `json:"groups"`
	}
	if err := json.Unmarshal(data, &users); err != nil {
		return auth.Principal{}, fmt.Errorf("reading %s: %w", d.path, err)
	}
	u, ok := users[user]
	if !ok {
		return p, nil
	}
	if u.Role == "revoked" {
		return auth.Principal{}, fmt.Errorf("%w: %s", auth.ErrRevoked, user)
	}
	if p.Role, err = auth.ParseRole(u.Role); err != nil {
		return auth.Principal{}, fmt.Errorf("%s: user %s: %w", d.path, user, err)
	}
	p.Groups = u.Groups
	return p, nil
}

// startActions makes this engine the one that appends operator events: it
// signs them (its key under <data>/auth, published for every reader),
// keeps the audit trail, and answers fm.api.act.<user>.<action>.
func startActions(ctx context.Context, store *jetstream.Store, dataDir string, retention time.Duration, log *slog.Logger) (stop func(), err error) {
	if err := store.EnableSigning(ctx, dataDir); err != nil {
		return nil, err
	}
	if err := store.EnableAudit(ctx, retention); err != nil {
		return nil, err
	}
	svc := &operator.Service{Catalog: operator.Default, Client: engine.NewClient(store, engine.ClientOptions{Identity: "foreman-engine"}),
		Directory: newStandInDirectory(dataDir), Audit: store, Log: log}
	stop, err = store.ServeActions(svc.Handle)
	if err != nil {
		return nil, err
	}
	log.Info("serving operator actions", "subject", actwire.ServeSubject, "audit_retention", retention)
	return stop, nil
}
