package operator

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/internal/actwire"
	"github.com/foremanhq/foreman/internal/audit"
	"github.com/foremanhq/foreman/internal/auth"
)

func init() { actwire.Register("unknown_action", ErrUnknownAction) }

// Service is the engine's side of operator actions (issue 16): it answers
// requests on fm.api.act.<user>.<action>, where NATS permissions let each
// user publish only under their own name, so <user> is the authenticated
// principal. It looks the principal's role up, checks the catalog lets
// that role perform the action, performs it through the engine's own
// client (which signs the events it appends) acting as the principal, and
// records every action and every refusal to the audit log.
type Service struct {
	Catalog   *Catalog
	Client    *engine.Client // the engine's: it holds the signing key
	Directory auth.Directory
	Audit     audit.Log // nil: nothing recorded
	Log       *slog.Logger

	// Rules keeps the notification rules (nil: the notify actions fail).
	Rules Rules
}

// Handle answers one request; subject is the one it arrived on.
func (s *Service) Handle(ctx context.Context, subject string, data []byte) []byte {
	rep := s.handle(ctx, subject, data)
	out, _ := json.Marshal(rep)
	return out
}

func (s *Service) handle(ctx context.Context, subject string, data []byte) actwire.Reply {
	user, action, ok := actwire.Parse(subject)
	var req actwire.Request
	if !ok || json.Unmarshal(data, &req) != nil {
		return reply(Outcome{}, invalidf("malformed action request on %s", subject))
	}
	rec := audit.Record{Time: time.Now().UTC(), Principal: user, Action: action, Reason: cmp.Or(req.Reason, req.Comment),
		OnBehalfOf: req.OnBehalfOf, BatchID: req.BatchID}
	if req.WorkflowID != "" {
		rec.Targets = []string{strings.TrimSuffix(req.WorkflowID+"/"+req.RunID, "/")}
	} else if strings.HasPrefix(action, "schedule-") && req.Name != "" {
		rec.Targets = []string{"schedule/" + req.Name} // schedules.go
	}
	out, err := s.perform(ctx, &rec, user, action, req)
	s.record(ctx, rec, err)
	return reply(out, err)
}

func (s *Service) perform(ctx context.Context, rec *audit.Record, user, action string, req actwire.Request) (Outcome, error) {
	p, err := s.Directory.Lookup(ctx, user)
	if err != nil {
		return Outcome{}, fmt.Errorf("%w: %s: %v", engine.ErrPermissionDenied, user, err)
	}
	rec.Role = string(p.Role)
	a, ok := s.Catalog.Lookup(action)
	if !ok {
		return Outcome{}, fmt.Errorf("%w %q", ErrUnknownAction, action)
	}
	if !a.Permits(p.Role, req.DryRun) {
		return Outcome{}, fmt.Errorf("%w: %s (role %s) may not %s (rule roles: %s)", engine.ErrPermissionDenied, user, p.Role, a.VerbOf(), strings.Join(rolesOf(a), ", "))
	}
	env := Env{Client: s.Client.As(engine.Acting{Principal: user, Groups: p.Groups, OnBehalfOf: req.OnBehalfOf}), Identity: user, Rules: s.Rules}
	params := Params{Reason: req.Reason, Comment: req.Comment, Name: req.Name, Approval: req.Approval, Input: req.Input,
		To: req.To, ReapplySignals: req.Reapply, DryRun: req.DryRun, UpdateID: req.UpdateID}
	return (&engineActions{cat: s.Catalog, env: func(context.Context) (Env, error) { return env, nil }}).
		Perform(ctx, Request{Action: action, Target: Target{WorkflowID: req.WorkflowID, RunID: req.RunID, Approval: req.Approval}, Params: params})
}

// rolesOf names the roles that may perform a.
func rolesOf(a *Action) []string {
	var out []string
	for _, r := range []auth.Role{auth.Viewer, auth.Operator, auth.Approver, auth.Worker, auth.Admin} {
		if a.Permits(r, false) {
			out = append(out, string(r))
		}
	}
	return out
}

// record appends rec with the outcome err says.
func (s *Service) record(ctx context.Context, rec audit.Record, err error) {
	switch {
	case err == nil:
		rec.Outcome = audit.OK
	case Definite(err):
		rec.Outcome, rec.Why = audit.Refused, err.Error()
	default:
		rec.Outcome, rec.Why = audit.Failed, err.Error()
	}
	if s.Audit == nil {
		return
	}
	// the request's context may be spent; the record must still land
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if aerr := s.Audit.AppendAudit(actx, rec, ""); aerr != nil && s.Log != nil {
		s.Log.Error("audit record lost", "action", rec.Action, "principal", rec.Principal, "outcome", rec.Outcome, "err", aerr)
	}
}

func reply(o Outcome, err error) actwire.Reply {
	rep := actwire.Reply{RunID: o.RunID, Detail: o.Detail}
	if o.Data != nil {
		rep.Data, _ = json.Marshal(o.Data)
	}
	if err != nil {
		rep.Error, rep.Code = err.Error(), actwire.Code(err)
		var inv *InvalidError
		if rep.Code == "" && errors.As(err, &inv) {
			rep.Code = "invalid_argument"
		}
	}
	return rep
}
