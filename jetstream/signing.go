package jetstream

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	natsjs "github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"

	"github.com/foremanhq/foreman/engine"
)

// The engine signs the operator events it appends (engine/opauth.go). Its
// key is an nkey seed in <data>/auth/engine-sign.nk (0600, created on
// first start); the public key is published in the KV bucket fm_engine
// under signing-key, which only admin credentials may write, for every
// reader of history to verify with.
const (
	EngineBucket   = "fm_engine"
	signingKeyName = "signing-key"
	signingKeyFile = "engine-sign.nk"
	// noKeyRecheck: how long a store that found no published key keeps
	// that answer (history readers ask on every read).
	noKeyRecheck = 10 * time.Second
)

var _ engine.OperatorKeys = (*Store)(nil)

// signingState is the store's view of the signing key.
type signingState struct {
	mu      sync.Mutex
	priv    ed25519.PrivateKey // the engine's only
	pub     ed25519.PublicKey
	checked time.Time // when "no key" was last read
}

// OperatorSigner is the engine's signing key, nil in other processes.
func (s *Store) OperatorSigner() ed25519.PrivateKey {
	s.signing.mu.Lock()
	defer s.signing.mu.Unlock()
	return s.signing.priv
}

// OperatorPublicKey is the published key (nil: none, verification off),
// read once and kept; "none" is read again every 10 s.
func (s *Store) OperatorPublicKey(ctx context.Context) (ed25519.PublicKey, error) {
	return s.operatorPublicKey(ctx, false)
}

// RecheckOperatorPublicKey is OperatorPublicKey reading the bucket again
// when it remembers "none": a "none" read while the engine was starting
// is stale once the engine publishes its key, and a client that trusted
// it would append unsigned operator events the engine then rejects as
// forged (engine.Client asks this before appending one itself).
func (s *Store) RecheckOperatorPublicKey(ctx context.Context) (ed25519.PublicKey, error) {
	return s.operatorPublicKey(ctx, true)
}

func (s *Store) operatorPublicKey(ctx context.Context, recheck bool) (ed25519.PublicKey, error) {
	st := &s.signing
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.pub != nil || !recheck && time.Since(st.checked) < noKeyRecheck {
		return st.pub, nil
	}
	ctx, cancel := withRequestTimeout(ctx, defaultTimeout)
	defer cancel()
	kv, err := s.js.KeyValue(ctx, EngineBucket)
	if errors.Is(err, natsjs.ErrBucketNotFound) {
		st.checked = time.Now() // a definite "none", kept a while
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the engine's signing key: %w", err)
	}
	e, err := kv.Get(ctx, signingKeyName)
	if errors.Is(err, natsjs.ErrKeyNotFound) {
		st.checked = time.Now()
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the engine's signing key: %w", err)
	}
	pub, err := decodePublic(string(e.Value()))
	if err != nil {
		return nil, err
	}
	st.pub = pub
	return pub, nil
}

func decodePublic(enc string) (ed25519.PublicKey, error) {
	raw, err := nkeys.Decode(nkeys.PrefixByteOperator, []byte(enc))
	if err != nil {
		return nil, fmt.Errorf("the published signing key %q: %w", enc, err)
	}
	return ed25519.PublicKey(raw), nil
}

// EnableSigning makes s the engine's store: it loads the signing key from
// <dataDir>/auth (creating it on first start), publishes its public key,
// and signs the operator events appended through s from then on. A
// different key already published (another engine's) is refused: engines
// of one deployment share one key file.
func (s *Store) EnableSigning(ctx context.Context, dataDir string) error {
	kp, err := loadSigningKey(filepath.Join(dataDir, authDir, signingKeyFile))
	if err != nil {
		return err
	}
	pubEnc, _ := kp.PublicKey()
	seed, _ := kp.Seed()
	_, raw, err := nkeys.DecodeSeed(seed)
	if err != nil {
		return fmt.Errorf("decoding the signing key: %w", err)
	}
	kv, err := openBucket(ctx, s.nc, natsjs.KeyValueConfig{Bucket: EngineBucket, Description: "Foreman engine: the public key operator events are signed with",
		Storage: natsjs.FileStorage, Replicas: s.opts.Replicas})
	if err != nil {
		return err
	}
	if _, err := kv.Create(ctx, signingKeyName, []byte(pubEnc)); errors.Is(err, natsjs.ErrKeyExists) {
		e, gerr := kv.Get(ctx, signingKeyName)
		if gerr != nil {
			return fmt.Errorf("reading the published signing key: %w", gerr)
		}
		if string(e.Value()) != pubEnc {
			return fmt.Errorf("another signing key (%s) is published in %s; engines of one deployment share %s (copy it from the engine that made it)",
				e.Value(), EngineBucket, signingKeyFile)
		}
	} else if err != nil {
		return fmt.Errorf("publishing the signing key: %w", err)
	}
	priv := ed25519.NewKeyFromSeed(raw)
	s.signing.mu.Lock()
	s.signing.priv, s.signing.pub = priv, priv.Public().(ed25519.PublicKey)
	s.signing.mu.Unlock()
	return nil
}

// loadSigningKey reads the key file, creating it (0600) when absent.
func loadSigningKey(path string) (nkeys.KeyPair, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		kp, err := nkeys.CreateOperator()
		if err != nil {
			return nil, fmt.Errorf("creating the signing key: %w", err)
		}
		seed, _ := kp.Seed()
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, fmt.Errorf("creating the signing key: %w", err)
		}
		if err := os.WriteFile(path, append(seed, '\n'), 0o600); err != nil {
			return nil, fmt.Errorf("writing the signing key: %w", err)
		}
		return kp, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the signing key: %w", err)
	}
	kp, err := nkeys.ParseDecoratedNKey(data)
	if err != nil {
		return nil, fmt.Errorf("reading the signing key %s: %w", path, err)
	}
	return kp, nil
}
