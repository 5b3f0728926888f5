package jetstream

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
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
	head := fmt.Sprintf("# Foreman credentials of %s (role %s). Keep secret: whoever holds this file is %s.\n%s%s\n", user, role, user, userHeader, user)
	return append([]byte(head), seed...)
}

// WriteSecretFile writes data to path, readable by its owner only.
func WriteSecretFile(path string, data []byte) error { return writeSecret(path, data) }

// CredsUser is the user a credentials file names (its foreman-user
// line); "" when it names none (a file from nsc, or an old local copy).
func CredsUser(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if rest, ok := strings.CutPrefix(line, userHeader); ok {
			if u := strings.TrimSpace(rest); auth.ValidUser(u) == nil {
				return u
			}
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
