package users

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"

	"github.com/foremanhq/foreman/internal/audit"
	"github.com/foremanhq/foreman/internal/auth"
	"github.com/foremanhq/foreman/jetstream"
	"github.com/foremanhq/foreman/jetstream/jstest"
)

// What `users permissions` prints is a valid nats-server authorization
// block, and a server loading it gives each role exactly the permissions
// the embedded server enforces (jetstream.PermsFor).
func TestPermissionsConfigLoads(t *testing.T) {
	for _, role := range []auth.Role{auth.Viewer, auth.Operator, auth.Approver, auth.Worker, auth.Admin} {
		t.Run(string(role), func(t *testing.T) {
			var out bytes.Buffer
			args := []string{"permissions", "--role", string(role), "--user", "alice"}
			if role == auth.Worker {
				args = append(args, "--queue", "orders", "--queue", "payments")
			}
			if err := Main(context.Background(), args, &out, &out); err != nil {
				t.Fatal(err)
			}
			kp, _ := nkeys.CreateUser()
			pub, _ := kp.PublicKey()
			conf := strings.ReplaceAll(out.String(), "<public key of alice>", pub)
			path := filepath.Join(t.TempDir(), "nats.conf")
			if err := os.WriteFile(path, []byte("port: -1\n"+conf), 0o600); err != nil {
				t.Fatal(err)
			}
			opts, err := server.ProcessConfigFile(path)
			if err != nil {
				t.Fatalf("nats-server refuses the printed config: %v\n%s", err, conf)
			}
			if len(opts.Nkeys) != 1 || opts.Nkeys[0].Nkey != pub {
				t.Fatalf("config users: %+v", opts.Nkeys)
			}
			p := auth.Principal{User: "alice", Role: role}
			if role == auth.Worker {
				p.Queues = []string{"orders", "payments"}
			}
			want, got := jetstream.PermsFor(p), opts.Nkeys[0].Permissions
			if want == nil {
				if got != nil {
					t.Fatalf("admin has permissions %+v, want none (everything)", got)
				}
				return
			}
			if !reflect.DeepEqual(got.Publish.Allow, want.PubAllow) || !reflect.DeepEqual(got.Publish.Deny, want.PubDeny) ||
				!reflect.DeepEqual(got.Subscribe.Allow, want.SubAllow) || (got.Response != nil) != want.Responses {
				t.Fatalf("loaded permissions differ from the enforced ones:\nloaded %+v %+v\nwant   %+v", got.Publish, got.Subscribe, want)
			}
		})
	}
}

// openServer starts an open test server (no NATS permissions) and
// connects to it.
func openServer(t *testing.T) (context.Context, *nats.Conn) {
	_, srv := jstest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	nc, err := jetstream.Connect(ctx, srv.ClientURL(), jetstream.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return ctx, nc
}

// The engine checks the requester's role itself: on a server that lets
// anyone publish anything (no NATS permissions), a viewer's add and an
// unknown user's revoke are refused, an admin's add works, and every
// operation and refusal is in FM_AUDIT.
func TestAdminServiceChecksTheRole(t *testing.T) {
	ctx, nc := openServer(t)
	dir, err := jetstream.OpenUsers(ctx, nc, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer dir.Close()
	stop, err := Serve(nc, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	key := func() string {
		kp, _ := nkeys.CreateUser()
		pub, _ := kp.PublicKey()
		return pub
	}
	for _, r := range []jetstream.UserRecord{
		{Principal: auth.Principal{User: "ada", Role: auth.Admin}, NKey: key()},
		{Principal: auth.Principal{User: "vera", Role: auth.Viewer}, NKey: key()},
	} {
		if err := dir.Add(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	call := func(as, op string, req Request) Reply {
		t.Helper()
		data, _ := json.Marshal(req)
		// As a client of user `as` does: replies on its own inbox prefix.
		inbox := jetstream.InboxPrefix(as) + ".t"
		sub, err := nc.SubscribeSync(inbox)
		if err != nil {
			t.Fatal(err)
		}
		defer sub.Unsubscribe()
		if err := nc.PublishRequest(jetstream.AdminPrefix+as+"."+op, inbox, data); err != nil {
			t.Fatal(err)
		}
		msg, err := sub.NextMsgWithContext(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var r Reply
		if err := json.Unmarshal(msg.Data, &r); err != nil {
			t.Fatal(err)
		}
		return r
	}
	if r := call("vera", OpAdd, Request{User: "eve", Role: auth.Admin, NKey: key()}); !strings.Contains(r.Error, "needs admin") {
		t.Fatalf("viewer's add: %+v", r)
	}
	if r := call("mallory", OpRevoke, Request{User: "ada"}); !strings.Contains(r.Error, "unknown user") {
		t.Fatalf("unknown user's revoke: %+v", r)
	}
	if r := call("ada", OpAdd, Request{User: "otto", Role: auth.Operator, NKey: key()}); r.Error != "" || r.User == nil || r.User.CreatedBy != "ada" {
		t.Fatalf("admin's add: %+v", r)
	}
	if r := call("ada", OpAdd, Request{User: "otto", Role: auth.Admin, NKey: key()}); !strings.Contains(r.Error, "exists") {
		t.Fatalf("adding an active user again: %+v", r)
	}
	if _, err := dir.Lookup(ctx, "eve"); err == nil {
		t.Fatal("the viewer's add went through")
	}
	// Replies go to the requester's own inbox prefix, or it is not them.
	if msg, err := nc.RequestWithContext(ctx, jetstream.AdminPrefix+"ada."+OpList, nil); err != nil || !strings.Contains(string(msg.Data), "not ada's inbox") {
		t.Fatalf("a request replying elsewhere than ada's inbox: %v %v", msg, err)
	}
	// A push consumer makes the server deliver a stored message (here a
	// user record, which reads as an add request) on ada's subject; it
	// delivers once some subscription names that subject exactly (the
	// engine's is a wildcard), which this open server lets the test make.
	// It arrives with its stream subject ($KV.fm_users.vera) and a $JS.ACK
	// reply: refused, never read as ada's.
	js, _ := natsjs.New(nc)
	lit, err := nc.SubscribeSync(jetstream.AdminPrefix + "ada." + OpAdd)
	if err != nil {
		t.Fatal(err)
	}
	defer lit.Unsubscribe()
	if _, err := js.CreateOrUpdateConsumer(ctx, "KV_"+jetstream.UsersBucket, natsjs.ConsumerConfig{
		Name: "replay", DeliverSubject: jetstream.AdminPrefix + "ada." + OpAdd, FilterSubject: "$KV." + jetstream.UsersBucket + ".vera", AckPolicy: natsjs.AckNonePolicy,
	}); err != nil {
		t.Fatal(err)
	}
	if m, err := lit.NextMsgWithContext(ctx); err != nil || !strings.HasPrefix(m.Reply, "$JS.ACK.") {
		t.Fatalf("the push consumer delivered nothing, or with reply %v: %v", m, err)
	}
	cons, err := js.OrderedConsumer(ctx, audit.Stream, natsjs.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for len(got) < 6 {
		m, err := cons.Next(natsjs.FetchMaxWait(5 * time.Second))
		if err != nil {
			t.Fatalf("audit after %d records: %v", len(got), err)
		}
		var rec audit.Record
		if err := json.Unmarshal(m.Data(), &rec); err != nil {
			t.Fatal(err)
		}
		got = append(got, rec.Principal+" "+rec.Action+" "+strings.SplitN(rec.Outcome, ":", 2)[0])
	}
	want := "vera users.add refused|mallory users.revoke refused|ada users.add ok|ada users.add failed|ada users.list refused|? users.invalid refused"
	if strings.Join(got, "|") != want {
		t.Fatalf("audit:\n%s\nwant\n%s", strings.Join(got, "|"), want)
	}
}

// With --nats nobody is admin in a new directory: the cluster's own
// administrator adds the first one directly, with NATS rights only.
func TestDirectAddsTheFirstAdmin(t *testing.T) {
	ctx, nc := openServer(t)
	kp, _ := nkeys.CreateUser()
	pub, _ := kp.PublicKey()
	if _, err := Direct(ctx, nc, OpAdd, Request{User: "root-ops", Role: auth.Admin, NKey: pub}); err != nil {
		t.Fatal(err)
	}
	r, err := Direct(ctx, nc, OpList, Request{})
	if err != nil || len(r.Users) != 1 || r.Users[0].User != "root-ops" || r.Users[0].Role != auth.Admin || r.Users[0].CreatedBy != "nats-admin" {
		t.Fatalf("list after a direct add: %+v, %v", r, err)
	}
}
