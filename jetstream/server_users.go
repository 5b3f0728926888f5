package jetstream

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"reflect"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/foremanhq/foreman/internal/auth"
)

// SetShards tells the server how many history and task shards its store
// has, for the permissions SetUsers gives (PermsForShards); before it, one.
func (s *Server) SetShards(n int) { s.shards.Store(int32(n)) }

// SetUsers makes the embedded server accept the active users of recs,
// each with its role's permissions (PermsForShards), besides the engine's own
// key, which keeps every right. New connections are checked against the
// new set at once; the open connections of a user who is no longer in it
// (revoked) or whose permissions changed are closed, so that a revoked
// user's reconnect is refused and a changed one reconnects under its new
// role. A server started with NoAuth ignores it.
func (s *Server) SetUsers(recs []UserRecord) error {
	if s.localKey == "" || s.authn == nil {
		return nil
	}
	s.usersMu.Lock()
	defer s.usersMu.Unlock()
	users := map[string]*server.NkeyUser{s.localKey: {Nkey: s.localKey}}
	names := map[string]string{s.localKey: LocalUser()}
	for _, r := range recs {
		if !r.Active() {
			names[r.NKey] = r.User + ", revoked" // its refused reconnects still say whose
		}
		if !r.Active() || r.Local || r.NKey == s.localKey || r.Validate() != nil {
			continue
		}
		users[r.NKey] = &server.NkeyUser{Nkey: r.NKey, Permissions: PermsForShards(r.Principal, int(s.shards.Load())).natsPermissions()}
		names[r.NKey] = r.User
	}
	old := s.authn.users.Load()
	s.logNames.Store(&names)
	s.authn.set(users)
	return s.closeChanged(*old, users)
}

// closeChanged closes the connections whose key left the set or whose
// permissions changed between old and now.
func (s *Server) closeChanged(old, now map[string]*server.NkeyUser) error {
	changed := map[string]bool{}
	for k, u := range old {
		if n, ok := now[k]; !ok || !reflect.DeepEqual(u.Permissions, n.Permissions) {
			changed[k] = true
		}
	}
	if len(changed) == 0 {
		return nil
	}
	cz, err := s.ns.Connz(&server.ConnzOptions{Username: true, Limit: math.MaxInt32})
	if err != nil {
		return fmt.Errorf("listing connections to close after a user change: %w", err)
	}
	for _, c := range cz.Conns {
		if changed[c.AuthorizedUser] {
			_ = s.ns.DisconnectClientByID(c.Cid) // gone already is fine
		}
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

// Accepts tells whether the server lets the user of public key nkey in
// now: the directory applies a change asynchronously (a watch), so a
// caller that adds a user and connects at once may wait for this.
func (s *Server) Accepts(nkey string) bool {
	return s.authn != nil && s.authn.user(nkey) != nil
}
