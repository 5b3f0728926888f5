package jetstream

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/foremanhq/foreman/internal/auth"
)

// userHeader starts the comment line of a credentials file that names
// its user: nats and nkeys skip comments (they look for the seed line),
// and a client learns from it which principal it is (Store.User) and
// which inbox prefix its permissions allow (InboxPrefix).
const userHeader = "# foreman-user: "

// NewUserCreds makes a user nkey for user and returns its public key and
// the content of its credentials file (header and decorated seed). The
// seed never leaves the process that makes it: `users add` sends the
// engine the public key only.
func NewUserCreds(user string, role auth.Role) (pub string, file []byte, err error) {
	seed, err := newUserSeed()
	if err != nil {
		return "", nil, fmt.Errorf("making a key for %s: %w", user, err)
	}
	kp, err := nkeys.ParseDecoratedUserNKey(seed)
	if err != nil {
		return "", nil, fmt.Errorf("making a key for %s: %w", user, err)
	}
	defer kp.Wipe()
	if pub, err = kp.PublicKey(); err != nil {
		return "", nil, fmt.Errorf("making a key for %s: %w", user, err)
	}
	return pub, credsWithUser(seed, user, role), nil
}

func credsWithUser(seed []byte, user string, role auth.Role) []byte {
	head := fmt.Sprintf("# Foreman credentials of %s (role %s). Keep secret: whoever holds this file is %s.\n%s%s\n%s%s\n", user, role, user, userHeader, user, roleHeader, role)
	return append([]byte(head), seed...)
}

// WriteSecretFile writes data to path, readable by its owner only.
func WriteSecretFile(path string, data []byte) error { return writeSecret(path, data) }

// roleHeader names the role the file was issued for: a hint for clients
// (a viewer's console starts read-only); the engine and NATS enforce the
// role the directory holds, whatever the file says.
const roleHeader = "# foreman-role: "

// CredsUser is the user a credentials file names (its foreman-user
// line); "" when it names none (a file from nsc, or an old local copy).
func CredsUser(path string) string {
	u := credsHeader(path, userHeader)
	if auth.ValidUser(u) != nil {
		return ""
	}
	return u
}

// CredsRole is the role a credentials file was issued for; "" if unknown.
func CredsRole(path string) auth.Role {
	r, err := auth.ParseRole(credsHeader(path, roleHeader))
	if err != nil {
		return ""
	}
	return r
}

func credsHeader(path, prefix string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), prefix); ok {
			return strings.TrimSpace(rest)
		}
	}
	return ""
}

// connUsers remembers the user each connection made by Connect
// authenticated as (Store.User), until the connection closes.
var connUsers sync.Map // *nats.Conn -> string

// ConnUser is the user nc authenticated as, as its credentials file names
// it; "" when unknown (no credentials, or a file that names no user).
func ConnUser(nc *nats.Conn) string {
	if u, ok := connUsers.Load(nc); ok {
		return u.(string)
	}
	return ""
}

// User is the principal of the store's connection (ConnUser): the token
// a client puts in fm.api.act.<user>.<action>.
func (s *Store) User() string { return ConnUser(s.nc) }

// deniedFns holds the OnDenied callbacks of each connection.
var deniedFns sync.Map // *nats.Conn -> *deniedHub

type deniedHub struct {
	mu  sync.Mutex
	fns []func(error)
}

// OnDenied calls fn whenever the server refuses a publish or a
// subscription of nc (its role's permissions do not allow the subject).
// NATS reports that asynchronously, and a request on a refused subject
// would wait its whole timeout: a caller cancels it at once with a cause
// that names the subject.
func OnDenied(nc *nats.Conn, fn func(error)) {
	h, _ := deniedFns.LoadOrStore(nc, &deniedHub{})
	hub := h.(*deniedHub)
	hub.mu.Lock()
	hub.fns = append(hub.fns, fn)
	hub.mu.Unlock()
}

func denied(nc *nats.Conn, err error) {
	h, ok := deniedFns.Load(nc)
	if !ok {
		return
	}
	hub := h.(*deniedHub)
	hub.mu.Lock()
	fns := slices.Clone(hub.fns)
	hub.mu.Unlock()
	who := ConnUser(nc)
	if who == "" {
		who = "these credentials"
	}
	err = fmt.Errorf("%w: the role of %s does not allow it", err, who)
	for _, fn := range fns {
		fn(err)
	}
}
