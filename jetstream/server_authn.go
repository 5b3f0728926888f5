package jetstream

import (
	"encoding/base64"
	"sync/atomic"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nkeys"
)

// nkeyAuthn is the embedded server's authentication: nkey users checked
// against the set the directory last applied (SetUsers), each registered
// with its role's permissions. It replaces reloading the server's options
// on every user change: nats-server v2.15.2's ReloadOptions writes options
// that JetStream requests and connects in flight read unlocked (a data
// race under -race, and a half-connected client could be closed by the
// reload's re-check).
type nkeyAuthn struct {
	users atomic.Pointer[map[string]*server.NkeyUser]
}

func newNkeyAuthn(localKey string) *nkeyAuthn {
	a := &nkeyAuthn{}
	a.set(map[string]*server.NkeyUser{localKey: {Nkey: localKey}})
	return a
}

func (a *nkeyAuthn) set(users map[string]*server.NkeyUser) { a.users.Store(&users) }

func (a *nkeyAuthn) user(key string) *server.NkeyUser {
	m := a.users.Load()
	if m == nil {
		return nil
	}
	return (*m)[key]
}

// Check accepts a client that signed the server's nonce with the seed of
// a key in the applied set (what nats-server does for opts.Nkeys).
func (a *nkeyAuthn) Check(c server.ClientAuthentication) bool {
	o := c.GetOpts()
	u := a.user(o.Nkey)
	if u == nil {
		return false
	}
	sig, err := base64.RawURLEncoding.DecodeString(o.Sig)
	if err != nil {
		if sig, err = base64.StdEncoding.DecodeString(o.Sig); err != nil {
			return false
		}
	}
	pub, err := nkeys.FromPublicKey(o.Nkey)
	if err != nil || pub.Verify(c.GetNonce(), sig) != nil {
		return false
	}
	if ca, ok := c.(interface{ RegisterNkeyUser(*server.NkeyUser) error }); ok {
		return ca.RegisterNkeyUser(u) == nil
	}
	return false
}
