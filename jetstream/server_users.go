package jetstream

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/foremanhq/foreman/internal/auth"
)

// SetUsers makes the embedded server accept the active users of recs,
// each with its role's permissions (PermsFor), besides the engine's own
// key, which keeps every right. It reloads the server's authorization in
// place: the connections of a user no longer in the set (revoked) are
// closed at once and their reconnects refused, and a user whose role
// changed gets the new permissions on its open connections. A server
// started with NoAuth ignores it.
func (s *Server) SetUsers(recs []UserRecord) error {
	if s.localKey == "" {
		return nil
	}
	s.usersMu.Lock()
	defer s.usersMu.Unlock()
	opts := s.base.Clone()
	opts.Nkeys = []*server.NkeyUser{{Nkey: s.localKey}}
	names := map[string]string{s.localKey: LocalUser()}
	for _, r := range recs {
		if !r.Active() {
			names[r.NKey] = r.User + ", revoked" // its refused reconnects still say whose
		}
		if !r.Active() || r.Local || r.NKey == s.localKey || r.Validate() != nil {
			continue
		}
		opts.Nkeys = append(opts.Nkeys, &server.NkeyUser{Nkey: r.NKey, Permissions: PermsFor(r.Principal).natsPermissions()})
		names[r.NKey] = r.User
	}
	s.logNames.Store(&names)
	if err := s.ns.ReloadOptions(opts); err != nil {
		return fmt.Errorf("applying %d users to the embedded server: %w", len(opts.Nkeys)-1, err)
	}
	return nil
}

// LocalKey is the public key of the engine's own credentials (CredsFile);
// "" when the server lets anyone in.
func (s *Server) LocalKey() string { return s.localKey }

// ServeUsers opens the user directory on the node's connection, records
// the engine's own key as the local principal (LocalUser, admin) and, for
// an embedded server, keeps the server's users in step with the directory
// (SetUsers on every change) until the returned Users is closed. With an
// external server (--nats) the directory still names roles for the
// engine; NATS accounts are configured there (`users permissions`).
func (n *Node) ServeUsers(ctx context.Context, log *slog.Logger) (*Users, error) {
	u, err := OpenUsers(ctx, n.Conn, n.Store.opts.Replicas)
	if err != nil {
		return nil, err
	}
	if s := n.Server; s != nil && s.localKey != "" {
		name := LocalUser()
		if r, ok := u.Get(name); !ok || !r.Local || r.NKey != s.localKey || !r.Active() {
			err := u.Add(ctx, UserRecord{Principal: auth.Principal{User: name, Role: auth.Admin}, NKey: s.localKey, Local: true, CreatedBy: "foreman-engine"})
			if err != nil {
				u.Close()
				return nil, fmt.Errorf("recording the engine's own user %s: %w", name, err)
			}
		}
		u.OnChange(func(recs []UserRecord) {
			if err := s.SetUsers(recs); err != nil {
				log.Error("users not applied to the embedded server", "err", err)
			}
		})
	}
	return u, nil
}
