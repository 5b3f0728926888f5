package users

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nkeys"

	"github.com/foremanhq/foreman/internal/auth"
	"github.com/foremanhq/foreman/jetstream"
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
