package jetstream

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"

	"github.com/foremanhq/foreman/engine"
)

// Commands that act beyond their run are signed by their writer with the
// key of its credentials and checked by the engine's dispatcher against
// the user directory (engine/cmdauth.go): the store gives the engine both
// halves.

var _ engine.CommandKeys = (*Store)(nil)

// connCreds remembers the credentials file each connection of a named
// user authenticated with, and connKeys the key pair read from it, until
// the connection closes.
var connCreds, connKeys sync.Map // *nats.Conn -> string, *nats.Conn -> nkeys.KeyPair

// CommandSigner is the user the store's connection authenticated as and a
// signature with its credentials' key; ok is false for a connection
// without a named user or whose key cannot be read.
func (s *Store) CommandSigner() (user string, sign func([]byte) ([]byte, error), ok bool) {
	user = s.User()
	kp := connKey(s.nc)
	if user == "" || kp == nil {
		return "", nil, false
	}
	return user, kp.Sign, true
}

// connKey is the key pair of nc's credentials, read once; nil if none.
func connKey(nc *nats.Conn) nkeys.KeyPair {
	if kp, ok := connKeys.Load(nc); ok {
		return kp.(nkeys.KeyPair)
	}
	path, ok := connCreds.Load(nc)
	if !ok {
		return nil
	}
	data, err := os.ReadFile(path.(string))
	if err != nil {
		return nil
	}
	kp, err := nkeys.ParseDecoratedNKey(data)
	if err != nil {
		return nil
	}
	connKeys.Store(nc, kp)
	return kp
}

// CommandRights is what the user directory (KV fm_users) says of user now:
// its public key, role and queues. A revoked or unknown user (or "") is
// engine.ErrNotFound; a deployment without the bucket is
// engine.ErrNoUserDirectory.
func (s *Store) CommandRights(ctx context.Context, user string) (engine.WriterRights, error) {
	if r, ok := s.rights.get(user); ok {
		return r, nil
	}
	r, err := s.readRights(ctx, user)
	if err == nil {
		s.rights.put(user, r)
	}
	return r, err
}

// rightsTTL is how long a user's rights are kept: a revocation or a
// change of queues takes effect on commands within it.
const rightsTTL = time.Second

// rightsCache keeps the users looked up in the last rightsTTL: a parent
// starting many children, an activity worker's every cross-queue
// activity, read the directory once a second.
type rightsCache struct {
	mu sync.Mutex
	m  map[string]cachedRights
}

type cachedRights struct {
	r  engine.WriterRights
	at time.Time
}

func (c *rightsCache) get(user string) (engine.WriterRights, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[user]
	if !ok || time.Since(e.at) > rightsTTL {
		return engine.WriterRights{}, false
	}
	return e.r, true
}

func (c *rightsCache) put(user string, r engine.WriterRights) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) > 1024 {
		c.m = map[string]cachedRights{} // bounded: old entries are stale anyway
	}
	c.m[user] = cachedRights{r: r, at: time.Now()}
}

func (s *Store) readRights(ctx context.Context, user string) (engine.WriterRights, error) {
	kv, err := s.usersKV(ctx)
	if err != nil {
		return engine.WriterRights{}, err
	}
	if user == "" {
		return engine.WriterRights{}, fmt.Errorf("a command without a user: %w", engine.ErrNotFound)
	}
	ctx, cancel := withRequestTimeout(ctx, defaultTimeout)
	defer cancel()
	e, err := kv.Get(ctx, user)
	if errors.Is(err, natsjs.ErrKeyNotFound) || errors.Is(err, natsjs.ErrInvalidKey) {
		return engine.WriterRights{}, fmt.Errorf("user %s: %w", user, engine.ErrNotFound)
	}
	if err != nil {
		return engine.WriterRights{}, fmt.Errorf("reading user %s: %w", user, err)
	}
	var r UserRecord
	if err := json.Unmarshal(e.Value(), &r); err != nil {
		return engine.WriterRights{}, fmt.Errorf("reading user %s: %w", user, err)
	}
	if !r.Active() {
		return engine.WriterRights{}, fmt.Errorf("user %s is revoked: %w", user, engine.ErrNotFound)
	}
	raw, err := nkeys.Decode(nkeys.PrefixByteUser, []byte(r.NKey))
	if err != nil {
		return engine.WriterRights{}, fmt.Errorf("user %s's key: %w", user, err)
	}
	return engine.WriterRights{Key: ed25519.PublicKey(raw), Role: string(r.Role), Queues: r.Queues}, nil
}

// usersKV binds the user directory's bucket on first use.
func (s *Store) usersKV(ctx context.Context) (natsjs.KeyValue, error) {
	return s.bindKV(ctx, &s.users, UsersBucket, engine.ErrNoUserDirectory)
}
