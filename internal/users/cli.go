package users

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/foremanhq/foreman/internal/auth"
	"github.com/foremanhq/foreman/jetstream"
)

// Usage is the help of `foreman-engine users`.
const Usage = `usage: foreman-engine users add NAME --role R [--group G ...] [--queue Q ...] [-o FILE]
       foreman-engine users list [--json]
       foreman-engine users revoke NAME
       foreman-engine users permissions [--role R] [--user NAME] [--queue Q ...] [--shards N]
       (add, list, revoke: --direct writes the directory with your NATS rights, no engine)

add, list and revoke talk to the running engine (--nats, default $FOREMAN_NATS
or nats://` + jetstream.DefaultListen + `) with admin credentials (by default the
ones it left for this OS user). add writes the new user's credentials file
(0600, default ./NAME.nk); give it to that user: foreman --creds FILE, or
foreman context add. revoke cuts the user's connections at once.
permissions prints the nats-server authorization each role needs when the
engine runs against an external cluster (--nats).

roles: viewer (search, show, history, query), operator (every action),
approver (decide approvals), worker (its task queues: --queue), admin (users).
`

type strList []string

func (l *strList) String() string     { return strings.Join(*l, ",") }
func (l *strList) Set(v string) error { *l = append(*l, v); return nil }

// Main runs `foreman-engine users ARGS`.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stdout, Usage)
		return nil
	}
	op, args := args[0], args[1:]
	fs := flag.NewFlagSet("users "+op, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, Usage) }
	var (
		conn          jetstream.Options
		url           string
		role, out     string
		user          string
		groups, queue strList
		asJSON        bool
		direct        bool
	)
	defURL := os.Getenv("FOREMAN_NATS")
	if defURL == "" {
		defURL = "nats://" + jetstream.DefaultListen
	}
	fs.StringVar(&url, "nats", defURL, "URL of the engine's NATS server")
	fs.StringVar(&conn.CredsFile, "creds", "", "admin credentials (default: the ones the engine left for this OS user)")
	fs.StringVar(&conn.TLSCert, "tls-cert", "", "client TLS certificate")
	fs.StringVar(&conn.TLSKey, "tls-key", "", "key of --tls-cert")
	fs.StringVar(&conn.TLSCA, "tls-ca", "", "CA that signed the server's certificate")
	fs.StringVar(&role, "role", "", "role: viewer, operator, approver, worker or admin")
	fs.Var(&groups, "group", "group the user belongs to (repeatable)")
	fs.Var(&queue, "queue", "task queue a worker serves (repeatable; worker role)")
	fs.StringVar(&out, "o", "", "credentials file to write (add; default ./NAME.nk)")
	fs.StringVar(&user, "user", "USER", "user name to put in the printed permissions")
	fs.BoolVar(&asJSON, "json", false, "list as JSON")
	shards := fs.Int("shards", 1, "history and task shards of the engine's data (permissions; foreman-engine --shards)")
	fs.BoolVar(&direct, "direct", false, "write the user directory with these credentials instead of asking the engine (an external cluster's administrator adding the first admin)")
	name, rest := "", args
	if len(rest) > 0 && !strings.HasPrefix(rest[0], "-") {
		name, rest = rest[0], rest[1:]
	}
	if err := fs.Parse(rest); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		if name != "" {
			return fmt.Errorf("users %s: unexpected argument %q", op, fs.Arg(0))
		}
		name = fs.Arg(0)
	}
	if op == "permissions" {
		return printPermissions(stdout, role, user, queue, *shards)
	}
	if (op == OpAdd || op == OpRevoke) && name == "" {
		return fmt.Errorf("users %s: NAME missing (see foreman-engine users -h)", op)
	}
	if op != OpAdd && op != OpRevoke && op != OpList {
		return fmt.Errorf("users: unknown command %q (add, list, revoke, permissions)", op)
	}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	conn.Name = "foreman-engine users"
	nc, err := jetstream.Connect(ctx, url, conn)
	if err != nil {
		return err
	}
	defer nc.Close()
	do := func(op string, req Request) (Reply, error) { return Call(ctx, nc, op, req) }
	if direct {
		do = func(op string, req Request) (Reply, error) { return Direct(ctx, nc, op, req) }
	}
	switch op {
	case OpList:
		r, err := do(OpList, Request{})
		if err != nil {
			return err
		}
		return printList(stdout, r.Users, asJSON)
	case OpRevoke:
		r, err := do(OpRevoke, Request{User: name})
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "revoked %s (role %s): its connections are closed and its key refused\n", name, r.User.Role)
		return nil
	}
	return add(do, stdout, name, role, groups, queue, out)
}

func add(do func(string, Request) (Reply, error), stdout io.Writer, name, role string, groups, queues []string, out string) error {
	r, err := auth.ParseRole(role)
	if err != nil {
		return fmt.Errorf("users add %s: --role: %w", name, err)
	}
	if err := auth.ValidUser(name); err != nil {
		return fmt.Errorf("users add: %w", err)
	}
	if out == "" {
		out = name + ".nk"
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		return fmt.Errorf("users add %s: %s exists; pass -o another file", name, out)
	}
	pub, file, err := jetstream.NewUserCreds(name, r)
	if err != nil {
		return err
	}
	// The file first: a user the engine knows and nobody holds the key of
	// would need revoking.
	if err := jetstream.WriteSecretFile(out, file); err != nil {
		return fmt.Errorf("users add %s: writing %s: %w", name, out, err)
	}
	if _, err := do(OpAdd, Request{User: name, Role: r, Groups: groups, Queues: queues, NKey: pub}); err != nil {
		os.Remove(out)
		return err
	}
	fmt.Fprintf(stdout, "added %s (role %s, public key %s); credentials written to %s (keep it secret)\n", name, r, pub, out)
	return nil
}

func printList(w io.Writer, recs []jetstream.UserRecord, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(recs)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "USER\tROLE\tGROUPS\tQUEUES\tCREATED\tSTATUS")
	for _, r := range recs {
		status := "active"
		if r.Local {
			status = "active (engine's local key)"
		}
		if !r.Active() {
			status = "revoked " + r.Revoked.Format(time.DateTime) + " by " + r.RevokedBy
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.User, r.Role, dash(r.Groups), dash(r.Queues), r.Created.Format(time.DateTime), status)
	}
	return tw.Flush()
}

func dash(l []string) string {
	if len(l) == 0 {
		return "-"
	}
	return strings.Join(l, ",")
}

// printPermissions writes the nats-server authorization of each role (or
// of role) for user: one permissions block per role and a users entry to
// copy, with the nkey the `users add` file holds.
func printPermissions(w io.Writer, role, user string, queues []string, shards int) error {
	if shards < 1 || shards > jetstream.MaxShards {
		return fmt.Errorf("users permissions: --shards %d: must be between 1 and %d", shards, jetstream.MaxShards)
	}
	roles := []auth.Role{auth.Viewer, auth.Operator, auth.Approver, auth.Worker, auth.Admin}
	if role != "" {
		r, err := auth.ParseRole(role)
		if err != nil {
			return err
		}
		roles = []auth.Role{r}
	}
	fmt.Fprintf(w, "# NATS permissions of Foreman roles, for nats-server's authorization block.\n")
	fmt.Fprintf(w, "# Each user may publish only its own fm.api.act.<user>.> and subscribe to its own\n# inbox prefix %s.>: Foreman clients set it from the credentials file\n# (`nats` CLI: --inbox-prefix %s).\n", jetstream.InboxPrefix(user), jetstream.InboxPrefix(user))
	fmt.Fprintf(w, "# The engine itself connects with admin rights.\nauthorization {\n  users = [\n")
	for _, r := range roles {
		p := auth.Principal{User: user, Role: r}
		if r == auth.Worker {
			p.Queues = slices.Clone(queues)
		}
		fmt.Fprintf(w, "    # role %s", r)
		if r == auth.Worker && len(queues) > 0 {
			fmt.Fprintf(w, " (queues %s)", strings.Join(queues, ", "))
		}
		fmt.Fprintf(w, "\n    { nkey: \"<public key of %s>\"\n%s    }\n", user, jetstream.PermsForShards(p, shards).Config("      "))
	}
	fmt.Fprintf(w, "  ]\n}\n")
	return nil
}
