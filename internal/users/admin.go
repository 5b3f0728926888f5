// Package users is Foreman's user management over NATS: the admin service
// foreman-engine serves on fm.api.admin.<user>.<op> (add, list, revoke
// users of the directory in jetstream.Users) and the `foreman-engine
// users` command that calls it.
//
// The requester is the <user> token of the subject, which NATS lets a
// user publish only as itself (jetstream.PermsFor gives fm.api.admin to
// admins alone), and the service checks that user is an active admin in
// the directory: both layers refuse, so a permission table mistake is not
// enough to manage users.
package users

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/foremanhq/foreman/internal/audit"
	"github.com/foremanhq/foreman/internal/auth"
	"github.com/foremanhq/foreman/jetstream"
)

// Admin operations (the last subject token).
const (
	OpAdd    = "add"
	OpList   = "list"
	OpRevoke = "revoke"
)

// serveQueue spreads admin requests over the engines serving them.
const serveQueue = "foreman-engine"

// Request is the body of an admin request.
type Request struct {
	User   string    `json:"user,omitempty"`
	Role   auth.Role `json:"role,omitempty"`
	Groups []string  `json:"groups,omitempty"`
	Queues []string  `json:"queues,omitempty"`
	NKey   string    `json:"nkey,omitempty"` // add: the new user's public key (the seed stays with the caller)
}

// Reply is the body of an admin reply.
type Reply struct {
	Error string                 `json:"error,omitempty"`
	User  *jetstream.UserRecord  `json:"user,omitempty"`
	Users []jetstream.UserRecord `json:"users,omitempty"`
}

// Serve answers admin requests on nc (the engine's connection) against
// dir until stop is called, recording each operation and each refusal in
// the audit stream.
func Serve(nc *nats.Conn, dir *jetstream.Users, log *slog.Logger) (stop func(), err error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	sub, err := nc.QueueSubscribe(jetstream.AdminPrefix+"*.*", serveQueue, func(m *nats.Msg) {
		rctx, rcancel := context.WithTimeout(ctx, 10*time.Second)
		defer rcancel()
		reply := handle(rctx, nc, dir, m, log)
		data, _ := json.Marshal(reply)
		_ = m.Respond(data)
	})
	if err != nil {
		cancel()
		return nil, fmt.Errorf("serving %s*.*: %w", jetstream.AdminPrefix, err)
	}
	return func() { _ = sub.Drain(); cancel() }, nil
}

func handle(ctx context.Context, nc *nats.Conn, dir *jetstream.Users, m *nats.Msg, log *slog.Logger) Reply {
	// A JetStream push delivery arrives with its stream subject, not
	// ours: parse strictly.
	rest, isAdmin := strings.CutPrefix(m.Subject, jetstream.AdminPrefix)
	who, op, ok := strings.Cut(rest, ".")
	valid := isAdmin && ok && auth.ValidUser(who) == nil && (op == OpAdd || op == OpList || op == OpRevoke)
	if !valid {
		who, op = "?", "invalid"
	}
	var req Request
	rec := audit.Record{Principal: who, Action: "users." + op}
	refuse := func(why string) Reply {
		rec.Outcome, rec.Why = audit.Refused, why
		writeAudit(ctx, nc, rec, log)
		log.Warn("admin request refused", "user", who, "op", op, "why", why)
		return Reply{Error: why}
	}
	// NATS lets only <who> publish on its subject, but a JetStream push
	// consumer can make the server itself deliver any stream's messages
	// there (a worker appends a crafted batch to history, then asks for it
	// to be delivered on an admin's subject). Those deliveries reply to
	// $JS.ACK…; a real request replies to its sender's own inbox, which
	// only <who> may subscribe to.
	if !valid {
		return refuse(fmt.Sprintf("%q is not fm.api.admin.<user>.<add|list|revoke>", m.Subject))
	}
	if !strings.HasPrefix(m.Reply, jetstream.InboxPrefix(who)+".") {
		return refuse(fmt.Sprintf("reply subject %q is not %s's inbox (%s.…): not a request from %s", m.Reply, who, jetstream.InboxPrefix(who), who))
	}
	p, err := dir.Lookup(ctx, who)
	if err != nil {
		return refuse(err.Error())
	}
	rec.Role = string(p.Role)
	if p.Role != auth.Admin {
		return refuse(fmt.Sprintf("%s has role %s; managing users needs admin", who, p.Role))
	}
	if err := json.Unmarshal(m.Data, &req); err != nil && op != OpList {
		return refuse("bad request: " + err.Error())
	}
	return apply(ctx, nc, dir, rec, op, req, log)
}

// apply performs op for the admin rec names and audits it.
func apply(ctx context.Context, nc *nats.Conn, dir *jetstream.Users, rec audit.Record, op string, req Request, log *slog.Logger) Reply {
	who := rec.Principal
	if req.User != "" {
		rec.Targets = []string{req.User}
	}
	var reply Reply
	var err error
	switch op {
	case OpList:
		reply.Users = dir.Snapshot()
		return reply // reads are not audited: they change nothing
	case OpAdd:
		r := jetstream.UserRecord{Principal: auth.Principal{User: req.User, Role: req.Role, Groups: req.Groups, Queues: req.Queues}, NKey: req.NKey, CreatedBy: who}
		rec.Reason = strings.TrimSpace(rec.Reason + " role " + string(req.Role))
		if err = dir.Add(ctx, r); err == nil {
			got, _ := dir.Get(req.User)
			reply.User = &got
		}
	case OpRevoke:
		var r jetstream.UserRecord
		if r, err = dir.Revoke(ctx, req.User, who); err == nil {
			reply.User = &r
		}
	default:
		return Reply{Error: fmt.Sprintf("unknown operation %q (add, list, revoke)", op)}
	}
	if err != nil {
		rec.Outcome, rec.Why = audit.Failed, err.Error()
		reply.Error = err.Error()
	} else {
		rec.Outcome = audit.OK
		log.Info("users changed", "by", who, "op", op, "user", req.User, "role", req.Role)
	}
	writeAudit(ctx, nc, rec, log)
	return reply
}

// Direct performs op on the directory through nc itself rather than
// through the engine: for an external cluster (--nats), where the
// directory has no admin yet and the cluster's own administrator, whose
// credentials may write $KV.fm_users, adds the first one. NATS
// permissions are the check here.
func Direct(ctx context.Context, nc *nats.Conn, op string, req Request) (Reply, error) {
	dir, err := jetstream.OpenUsers(ctx, nc, 0)
	if err != nil {
		return Reply{}, fmt.Errorf("users %s --direct: %w", op, err)
	}
	defer dir.Close()
	who := jetstream.ConnUser(nc)
	if who == "" {
		who = "nats-admin"
	}
	rec := audit.Record{Principal: who, Role: string(auth.Admin), Action: "users." + op, Reason: "direct"}
	r := apply(ctx, nc, dir, rec, op, req, slog.New(slog.DiscardHandler))
	if r.Error != "" {
		return r, fmt.Errorf("users %s: %s", op, r.Error)
	}
	return r, nil
}

// ErrRefused wraps what the engine answered when it refused a request.
var ErrRefused = errors.New("refused by the engine")

// Call sends an admin request as the connection's user.
func Call(ctx context.Context, nc *nats.Conn, op string, req Request) (Reply, error) {
	me := jetstream.ConnUser(nc)
	if me == "" {
		return Reply{}, fmt.Errorf("users %s: the credentials used name no Foreman user (a file written by foreman-engine has a %q line)", op, "# foreman-user:")
	}
	data, err := json.Marshal(req)
	if err != nil {
		return Reply{}, err
	}
	msg, err := nc.RequestWithContext(ctx, jetstream.AdminPrefix+me+"."+op, data)
	if errors.Is(err, nats.ErrNoResponders) {
		return Reply{}, fmt.Errorf("users %s: no engine serves user management on this server (is foreman-engine running?)", op)
	}
	if err != nil {
		return Reply{}, fmt.Errorf("users %s: %w", op, err)
	}
	var r Reply
	if err := json.Unmarshal(msg.Data, &r); err != nil {
		return Reply{}, fmt.Errorf("users %s: bad reply: %w", op, err)
	}
	if r.Error != "" {
		return r, fmt.Errorf("users %s: %w: %s", op, ErrRefused, r.Error)
	}
	return r, nil
}
