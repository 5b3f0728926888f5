package jetstream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/user"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"

	"github.com/foremanhq/foreman/internal/auth"
)

// UsersBucket is the user directory: user name -> JSON UserRecord.
//
// It lives in JetStream rather than in files under <data>/auth because
// the engine is not the only reader: the engine's operator layer looks
// principals up in it on every request (auth.Directory), a user added or
// revoked must be seen at once by whatever serves requests (a watch, not a
// file poll), and with --nats there is no data directory at all while the
// directory still decides roles; it is replicated and backed up with the
// rest of the engine's state. Only admin credentials may write it (the
// permissions of every other role leave $KV.fm_users out). The embedded
// server learns the keys from it (Server.SetUsers), so a user's NATS
// permissions and the role the engine checks come from one record.
const UsersBucket = "fm_users"

// UserRecord is one user of the directory. A revoked user keeps its
// record (who it was, who revoked it) and its key is refused.
type UserRecord struct {
	auth.Principal
	NKey      string     `json:"nkey"` // the user's public nkey (U...)
	Created   time.Time  `json:"created"`
	CreatedBy string     `json:"created_by,omitempty"`
	Revoked   *time.Time `json:"revoked,omitempty"`
	RevokedBy string     `json:"revoked_by,omitempty"`
	// Local marks the engine's own key (<data>/auth/local.nk), the one
	// clients of the same OS user find: principal = that OS user.
	Local bool `json:"local,omitempty"`
}

// Active reports whether the record's key may connect.
func (r UserRecord) Active() bool { return r.Revoked == nil }

// Validate checks a record before it is stored.
func (r UserRecord) Validate() error {
	if err := auth.ValidUser(r.User); err != nil {
		return err
	}
	if _, err := auth.ParseRole(string(r.Role)); err != nil {
		return err
	}
	if !nkeys.IsValidPublicUserKey(r.NKey) {
		return fmt.Errorf("user %s: %q is not a public user nkey", r.User, r.NKey)
	}
	for _, q := range r.Queues {
		if err := CheckQueueName(q); err != nil {
			return fmt.Errorf("user %s: %w", r.User, err)
		}
	}
	if len(r.Queues) > 0 && r.Role != auth.Worker {
		return fmt.Errorf("user %s: --queue applies to the worker role only", r.User)
	}
	for _, g := range r.Groups {
		if err := auth.ValidUser(g); err != nil {
			return fmt.Errorf("user %s: group: %w", r.User, err)
		}
	}
	return nil
}

// Users is the user directory, kept current by a watch so that Lookup
// sees a revocation within milliseconds of it being written. It
// implements auth.Directory. Safe for concurrent use.
type Users struct {
	kv natsjs.KeyValue

	notifyMu sync.Mutex // held while callbacks run
	mu       sync.Mutex
	recs     map[string]UserRecord
	loaded   chan struct{}
	changed  []func([]UserRecord)
	stop     func()
}

var _ auth.Directory = (*Users)(nil)

// OpenUsers opens the directory on nc, creating the bucket when absent
// (the engine does; a client without admin rights cannot), and starts
// following it.
func OpenUsers(ctx context.Context, nc *nats.Conn, replicas int) (*Users, error) {
	// A few revisions: who had which key before a revoke stays readable.
	cfg := natsjs.KeyValueConfig{Bucket: UsersBucket, History: 5, Storage: natsjs.FileStorage, Replicas: max(replicas, 1)}
	cfg.Description = "Foreman users: name -> role, groups, queues, public nkey, revocation"
	kv, err := openBucket(ctx, nc, cfg)
	if err != nil {
		return nil, err
	}
	u := &Users{kv: kv, recs: map[string]UserRecord{}, loaded: make(chan struct{})}
	wctx, cancel := context.WithCancel(context.Background())
	w, err := kv.WatchAll(wctx)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("watching %s: %w", UsersBucket, err)
	}
	u.stop = func() { cancel(); _ = w.Stop() }
	go u.follow(w)
	select {
	case <-u.loaded:
	case <-ctx.Done():
		u.Close()
		return nil, fmt.Errorf("loading %s: %w", UsersBucket, ctx.Err())
	}
	return u, nil
}

// follow applies the watch's updates; a nil entry ends the initial load.
func (u *Users) follow(w natsjs.KeyWatcher) {
	initial := true
	for e := range w.Updates() {
		if e == nil {
			initial = false
			close(u.loaded)
			u.notify()
			continue
		}
		u.mu.Lock()
		var r UserRecord
		if e.Operation() == natsjs.KeyValuePut && json.Unmarshal(e.Value(), &r) == nil {
			u.recs[e.Key()] = r
		} else {
			delete(u.recs, e.Key())
		}
		u.mu.Unlock()
		if !initial {
			u.notify()
		}
	}
}

// notify calls every OnChange callback with a snapshot taken under
// notifyMu: calls never overlap, and the last one sees the newest records.
func (u *Users) notify() {
	u.notifyMu.Lock()
	defer u.notifyMu.Unlock()
	u.mu.Lock()
	fns := slices.Clone(u.changed)
	u.mu.Unlock()
	recs := u.Snapshot()
	for _, fn := range fns {
		fn(recs)
	}
}

// OnChange calls fn with every record now and after each change, one
// call at a time.
func (u *Users) OnChange(fn func([]UserRecord)) {
	u.notifyMu.Lock()
	defer u.notifyMu.Unlock()
	u.mu.Lock()
	u.changed = append(u.changed, fn)
	u.mu.Unlock()
	fn(u.Snapshot())
}

// Snapshot is every record, sorted by name.
func (u *Users) Snapshot() []UserRecord {
	u.mu.Lock()
	defer u.mu.Unlock()
	out := make([]UserRecord, 0, len(u.recs))
	for _, r := range u.recs {
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b UserRecord) int { return strings.Compare(a.User, b.User) })
	return out
}

// Lookup answers who user is now.
func (u *Users) Lookup(_ context.Context, name string) (auth.Principal, error) {
	u.mu.Lock()
	r, ok := u.recs[name]
	u.mu.Unlock()
	switch {
	case !ok:
		return auth.Principal{}, fmt.Errorf("%w: %s", auth.ErrUnknownUser, name)
	case !r.Active():
		return auth.Principal{}, fmt.Errorf("%w: %s", auth.ErrRevoked, name)
	}
	return r.Principal, nil
}

// Get returns the record of name (revoked ones too).
func (u *Users) Get(name string) (UserRecord, bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	r, ok := u.recs[name]
	return r, ok
}

// ErrUserExists: add of a name that has an active record.
var ErrUserExists = errors.New("user exists")

// Add stores a new user. A revoked user's name may be given again (new
// key); an active one may not: revoke it first, so that replacing
// someone's key is always two audited steps.
func (u *Users) Add(ctx context.Context, r UserRecord) error {
	if err := r.Validate(); err != nil {
		return err
	}
	if r.Created.IsZero() {
		r.Created = time.Now().UTC()
	}
	ctx, cancel := withRequestTimeout(ctx, defaultTimeout)
	defer cancel()
	val, _ := json.Marshal(r) // plain strings, times and lists: cannot fail
	e, err := u.kv.Get(ctx, r.User)
	switch {
	case errors.Is(err, natsjs.ErrKeyNotFound):
		_, err = u.kv.Create(ctx, r.User, val)
	case err != nil:
	default:
		var old UserRecord
		if json.Unmarshal(e.Value(), &old) == nil && old.Active() && !(old.Local && r.Local) {
			return fmt.Errorf("adding user %s: %w (revoke it first)", r.User, ErrUserExists)
		}
		_, err = u.kv.Update(ctx, r.User, val, e.Revision())
	}
	if err != nil {
		return fmt.Errorf("adding user %s: %w", r.User, err)
	}
	u.remember(r)
	return nil
}

func (u *Users) remember(r UserRecord) {
	u.mu.Lock()
	u.recs[r.User] = r
	u.mu.Unlock()
}

// Revoke marks name revoked by by; its key is refused from then on.
func (u *Users) Revoke(ctx context.Context, name, by string) (UserRecord, error) {
	ctx, cancel := withRequestTimeout(ctx, defaultTimeout)
	defer cancel()
	e, err := u.kv.Get(ctx, name)
	if errors.Is(err, natsjs.ErrKeyNotFound) {
		return UserRecord{}, fmt.Errorf("revoking %s: %w", name, auth.ErrUnknownUser)
	}
	if err != nil {
		return UserRecord{}, fmt.Errorf("revoking %s: %w", name, err)
	}
	var r UserRecord
	if err := json.Unmarshal(e.Value(), &r); err != nil {
		return UserRecord{}, fmt.Errorf("revoking %s: %w", name, err)
	}
	if r.Local {
		return r, fmt.Errorf("revoking %s: it is the engine's own key (delete <data>/auth/local.nk and restart to replace it)", name)
	}
	if !r.Active() {
		return r, fmt.Errorf("revoking %s: %w", name, auth.ErrRevoked)
	}
	now := time.Now().UTC()
	r.Revoked, r.RevokedBy = &now, by
	val, _ := json.Marshal(r)
	if _, err := u.kv.Update(ctx, name, val, e.Revision()); err != nil {
		return r, fmt.Errorf("revoking %s: %w", name, err)
	}
	u.remember(r) // this process's Lookup refuses at once; others within the watch's delay
	return r, nil
}

// Close stops following the bucket.
func (u *Users) Close() { u.stop() }

// LocalUser is the principal of the engine's own credentials: the OS user
// running it, folded into a valid user name (auth.ValidUser).
func LocalUser() string {
	name := os.Getenv("USER")
	if cu, err := user.Current(); err == nil && cu.Username != "" {
		name = cu.Username
	}
	if i := strings.LastIndexAny(name, `\/`); i >= 0 { // DOMAIN\user
		name = name[i+1:]
	}
	var b strings.Builder
	for _, c := range strings.ToLower(name) {
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '_', c == '-':
			b.WriteRune(c)
		default:
			b.WriteByte('-')
		}
	}
	s := strings.TrimLeft(b.String(), "_-")
	if len(s) > 64 {
		s = s[:64]
	}
	if auth.ValidUser(s) != nil {
		return "local"
	}
	return s
}
