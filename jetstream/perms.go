package jetstream

import (
	"fmt"
	"slices"
	"strings"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/foremanhq/foreman/internal/auth"
)

// The NATS permissions of each role (issue 16, AUTH-CONTRACT.md §3). The
// embedded server applies them to every user of the directory; `foreman-
// engine users permissions` prints them in nats-server configuration
// syntax for an external cluster. One table serves both, so what is
// documented is what is enforced.
//
// The rule: a role that must not change state gets no publish on a
// subject that writes (fm.h, fm.t, fm.tm, $KV, stream and consumer
// management); every change an operator makes is a request to the engine
// on fm.api.act.<own user>.<action>, where the engine checks the role.
// Each user subscribes only to its own inbox prefix (_INBOX_<user>, which
// Connect sets from the credentials file), so nobody reads the replies
// addressed to someone else (a search result, an admin answer).

const (
	apiPrefix = "$JS.API."
	// actPrefix + <user>.<action>: operator actions the engine serves.
	actPrefix = "fm.api.act."
	// AdminPrefix + <user>.<op>: user management the engine serves.
	AdminPrefix = "fm.api.admin."
)

// readableStreams may be read (info, direct get, ephemeral consumers) by
// every role: histories, run records, heartbeats, saved views, batch
// journals, the user directory (public keys only) and the engine's
// published signing key.
var readableStreams = []string{HistoryStream, TimersStream, "KV_" + RunsBucket, "KV_" + HeartbeatsBucket, "KV_" + ViewsBucket, "KV_" + BatchesBucket, "KV_" + UsersBucket, "KV_fm_engine", "KV_" + WorkersBucket, "KV_" + SchedulesBucket, "KV_" + NotifiedBucket}

// auditStream is readable by operators and approvers, not viewers
// (AUTH-CONTRACT.md §2).
const auditStream = "FM_AUDIT"

// engineDurables are the engine's own durable consumers on the readable
// streams: nobody else may re-create (re-configure) or pull from them.
var engineDurables = map[string][]string{HistoryStream: {"dispatcher"}}

// InboxPrefix is the inbox prefix of user's connections: the only
// replies it may subscribe to.
func InboxPrefix(user string) string { return "_INBOX_" + user }

// Perms is one user's NATS permissions; nil means everything (admin).
type Perms struct {
	PubAllow, PubDeny, SubAllow, SubDeny []string
	// Responses lets the user answer the requests it receives (a worker
	// answering queries), whatever their reply subject.
	Responses bool
}

// PermsFor is what NATS lets p publish and subscribe to on a store with
// one history and task shard; nil for admin.
func PermsFor(p auth.Principal) *Perms { return PermsForShards(p, 1) }

// PermsForShards is PermsFor on a store with that many shards (shards.go):
// the same rights on every shard's streams.
func PermsForShards(p auth.Principal, shards int) *Perms {
	if p.Role == auth.Admin {
		return nil
	}
	lay := layout{n: max(shards, 1)}
	u := p.User
	pr := &Perms{
		PubAllow: []string{actPrefix + u + ".>", apiPrefix + "INFO", apiPrefix + "STREAM.INFO.*", apiPrefix + "STREAM.NAMES", apiPrefix + "STREAM.LIST"},
		SubAllow: []string{InboxPrefix(u) + ".>"},
	}
	streams := slices.Clone(readableStreams)
	if p.Role == auth.Operator || p.Role == auth.Approver {
		// The rules name webhook URLs, often secrets (Slack's).
		streams = append(streams, auditStream, "KV_"+NotifyRulesBucket)
	}
	durableStreams := []string{HistoryStream}
	if lay.sharded() {
		durableStreams = nil
		for i := range lay.n {
			streams = append(streams, lay.historyStream(i))
			durableStreams = append(durableStreams, lay.historyStream(i))
		}
	}
	for _, st := range streams {
		pr.PubAllow = append(pr.PubAllow, readStream(st)...)
	}
	for _, st := range durableStreams {
		for _, n := range engineDurables[HistoryStream] {
			for _, op := range []string{"CONSUMER.CREATE.", "CONSUMER.MSG.NEXT.", "CONSUMER.DELETE."} {
				pr.PubDeny = append(pr.PubDeny, apiPrefix+op+st+"."+n, apiPrefix+op+st+"."+n+".>")
			}
		}
	}
	if p.Role != auth.Worker {
		// Searches, queries, live index updates.
		pr.PubAllow = append(pr.PubAllow, "fm.api.vis.>", querySubjectPrefix+">")
		pr.SubAllow = append(pr.SubAllow, "fm.vis.updates")
		// Notifications the engine publishes under its own namespace
		// (a rule's default subject, issue 18).
		pr.SubAllow = append(pr.SubAllow, NotifySubjectPrefix+">")
		if p.Role == auth.Operator || p.Role == auth.Approver {
			// A batch's own bookkeeping (its journal and the hold that says
			// which process runs it) and the shared saved views: written by
			// the client, never workflow state — each run's action still
			// goes through fm.api.act, where the engine checks the role.
			pr.PubAllow = append(pr.PubAllow, "$KV."+BatchesBucket+".>", "$KV."+ViewsBucket+".>", holdSubjectPrefix+">")
			pr.SubAllow = append(pr.SubAllow, holdSubjectPrefix+">")
		}
		return pr
	}
	// A worker: what the worker runtime and an app starting workflows do
	// today. History appends cannot be narrowed by run (which is why
	// operator events are signed by the engine). No timers: only the
	// engine's dispatcher stores them and its timer service fires and
	// deletes them, and a stored timer names the queue the engine
	// publishes it to (a worker of queue A would reach B through it).
	pr.Responses = true
	pr.PubAllow = append(pr.PubAllow,
		lay.historyFilter(), lay.taskFilter(), cancelSubject,
		"$KV."+RunsBucket+".>", "$KV."+HeartbeatsBucket+".>", "$KV."+WorkersBucket+".>")
	pr.SubAllow = append(pr.SubAllow, cancelSubject)
	if len(p.Queues) == 0 {
		for i := range lay.n {
			pr.PubAllow = append(pr.PubAllow, readStream(lay.taskStream(i))...)
			pr.PubAllow = append(pr.PubAllow, "$JS.ACK."+lay.taskStream(i)+".>")
		}
		// Workers of a queue ask one another about eager activity
		// attempts (worker_bus.go).
		pr.PubAllow = append(pr.PubAllow, querySubjectPrefix+"*.w.*")
		pr.SubAllow = append(pr.SubAllow, querySubjectPrefix+">")
		return pr
	}
	for _, q := range p.Queues {
		for _, kind := range []string{"wf", "act"} {
			// The durable of the queue, created only with the queue's own
			// filter (the server refuses a body whose filter differs from
			// the subject's), pulled and acked by name.
			c := kind + "_" + q // taskConsumerName
			for i := range lay.n {
				st := lay.taskStream(i)
				pr.PubAllow = append(pr.PubAllow,
					apiPrefix+"CONSUMER.CREATE."+st+"."+c+"."+lay.taskSubject(i, kind, q),
					apiPrefix+"CONSUMER.MSG.NEXT."+st+"."+c,
					apiPrefix+"CONSUMER.INFO."+st+"."+c,
					"$JS.ACK."+st+"."+c+".>")
			}
		}
		pr.SubAllow = append(pr.SubAllow, querySubjectPrefix+q, querySubjectPrefix+q+".w.*")
		pr.PubAllow = append(pr.PubAllow, querySubjectPrefix+q+".w.*")
	}
	return pr
}

// readStream is the JetStream API a reader of stream uses: message gets
// (direct and not) and ephemeral (ordered) consumers: create, pull, info,
// and delete when done (readers delete theirs at once rather than leave
// them to expire; the engine's own durables are denied by name).
func readStream(st string) []string {
	return []string{
		apiPrefix + "DIRECT.GET." + st, apiPrefix + "DIRECT.GET." + st + ".>",
		apiPrefix + "STREAM.MSG.GET." + st,
		apiPrefix + "CONSUMER.CREATE." + st, apiPrefix + "CONSUMER.CREATE." + st + ".>",
		apiPrefix + "CONSUMER.MSG.NEXT." + st + ".*",
		apiPrefix + "CONSUMER.INFO." + st + ".*",
		apiPrefix + "CONSUMER.DELETE." + st + ".*",
	}
}

// natsPermissions converts p to the server's form; nil stays nil.
func (p *Perms) natsPermissions() *server.Permissions {
	if p == nil {
		return nil
	}
	sp := &server.Permissions{
		Publish:   &server.SubjectPermission{Allow: p.PubAllow, Deny: p.PubDeny},
		Subscribe: &server.SubjectPermission{Allow: p.SubAllow, Deny: p.SubDeny},
	}
	if p.Responses {
		sp.Response = &server.ResponsePermission{MaxMsgs: 1, Expires: server.DEFAULT_ALLOW_RESPONSE_EXPIRATION}
	}
	return sp
}

// Config renders p as a nats-server `permissions` block.
func (p *Perms) Config(indent string) string {
	if p == nil {
		return indent + "# admin: no permissions block (everything allowed)\n"
	}
	var b strings.Builder
	list := func(name string, subs []string) {
		if len(subs) == 0 {
			return
		}
		// One subject a line: what an operator reviews is a list.
		fmt.Fprintf(&b, "%s    %s: [\n", indent, name)
		for _, s := range subs {
			fmt.Fprintf(&b, "%s      %q\n", indent, s)
		}
		fmt.Fprintf(&b, "%s    ]\n", indent)
	}
	fmt.Fprintf(&b, "%spermissions: {\n%s  publish: {\n", indent, indent)
	list("allow", p.PubAllow)
	list("deny", p.PubDeny)
	fmt.Fprintf(&b, "%s  }\n%s  subscribe: {\n", indent, indent)
	list("allow", p.SubAllow)
	list("deny", p.SubDeny)
	fmt.Fprintf(&b, "%s  }\n", indent)
	if p.Responses {
		fmt.Fprintf(&b, "%s  allow_responses: true\n", indent)
	}
	fmt.Fprintf(&b, "%s}\n", indent)
	return b.String()
}
