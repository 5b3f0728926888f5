package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/foremanhq/foreman/internal/auth"
	"github.com/foremanhq/foreman/jetstream"
)

// Contexts are named connection profiles, in the spirit of `nats context`:
// one JSON file per context under <config dir>/context/ (the same field
// names nats uses for what they share: url, creds, cert, key, ca,
// description), and the selected one's name in <config dir>/context.txt.
// The config dir is jetstream.ConfigDir: $FOREMAN_CONFIG_DIR, else
// os.UserConfigDir()/foreman.
type fmContext struct {
	Name        string `json:"name"` // the file name wins when they differ
	Description string `json:"description,omitempty"`
	URL         string `json:"url"`
	Creds       string `json:"creds,omitempty"`
	Cert        string `json:"cert,omitempty"`
	Key         string `json:"key,omitempty"`
	CA          string `json:"ca,omitempty"`
	// ReadOnly makes every command and the console read-only by default
	// (--read-only=false still lifts it; the role decides what is allowed).
	ReadOnly bool `json:"read_only,omitempty"`
	// Production marks the context in the console's header.
	Production bool `json:"production,omitempty"`
}

// errNoContext: the context named does not exist.
var errNoContext = errors.New("no such context")

// contextEnv names the context to use instead of the selected one.
const contextEnv = "FOREMAN_CONTEXT"

func contextDir() (string, error) {
	d, err := jetstream.ConfigDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(d, "context"), nil
}

func checkContextName(name string) error {
	// The user-name rule: a file name on every system, and one token.
	if err := auth.ValidUser(name); err != nil {
		return usagef("context name %q: want [a-z0-9][a-z0-9_-]{0,63}", name)
	}
	return nil
}

func contextPath(name string) (string, error) {
	if err := checkContextName(name); err != nil {
		return "", err
	}
	d, err := contextDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(d, name+".json"), nil
}

func loadContext(name string) (*fmContext, error) {
	path, err := contextPath(name)
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w %q (foreman context list)", errNoContext, name)
	}
	if err != nil {
		return nil, fmt.Errorf("context %q: %w", name, err)
	}
	c := &fmContext{Name: name}
	if err := json.Unmarshal(data, c); err != nil {
		return nil, fmt.Errorf("context %q: %s: %w", name, path, err)
	}
	return c, nil
}

func saveContext(c *fmContext) error {
	path, err := contextPath(c.Name)
	if err != nil {
		return err
	}
	data, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	// Paths, not secrets, but the file says where the secrets are.
	if err := jetstream.WriteSecretFile(path, append(data, '\n')); err != nil {
		return fmt.Errorf("saving context %q: %w", c.Name, err)
	}
	return nil
}

func listContexts() ([]*fmContext, error) {
	d, err := contextDir()
	if err != nil {
		return nil, err
	}
	ents, err := os.ReadDir(d)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []*fmContext
	for _, e := range ents {
		name, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok || checkContextName(name) != nil {
			continue
		}
		c, err := loadContext(name)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b *fmContext) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

func selectedFile() (string, error) {
	d, err := jetstream.ConfigDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(d, "context.txt"), nil
}

// selectedContext is the name `foreman context use` chose; "" for none.
func selectedContext() string {
	path, err := selectedFile()
	if err != nil {
		return ""
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(data))
}

func selectContext(name string) error {
	path, err := selectedFile()
	if err != nil {
		return err
	}
	if name == "" {
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	return os.WriteFile(path, []byte(name+"\n"), 0o600)
}

// scanFlag finds --name VALUE or --name=VALUE (one or two dashes) in args
// before they are parsed: the context decides the defaults the parse
// starts from. "--" ends the search.
func scanFlag(args []string, name string) (string, bool) {
	for i, a := range args {
		if a == "--" {
			break
		}
		f := strings.TrimLeft(a, "-")
		if f == a {
			continue
		}
		if v, ok := strings.CutPrefix(f, name+"="); ok {
			return v, true
		}
		if f == name && i+1 < len(args) {
			return args[i+1], true
		}
		if f == name {
			return "", true
		}
	}
	return "", false
}

// applyContext sets g's connection from the context to use: --context or
// $FOREMAN_CONTEXT, which win over $FOREMAN_NATS, else the selected one,
// which is skipped when --nats or $FOREMAN_NATS names a server (its
// credentials belong to another). Flags parsed afterwards override what
// it sets. The context command itself never applies one.
func (g *globals) applyContext(args []string, getenv func(string) string) error {
	name, explicit := scanFlag(args, "context")
	if name == "" {
		name, explicit = getenv(contextEnv), true
	}
	if name == "" {
		if _, natsFlag := scanFlag(args, "nats"); natsFlag || getenv("FOREMAN_NATS") != "" {
			return nil
		}
		name, explicit = selectedContext(), false
	}
	if name == "" {
		return nil
	}
	c, err := loadContext(name)
	if err != nil {
		if !explicit {
			return fmt.Errorf("selected %w; choose another with foreman context use", err)
		}
		return err
	}
	g.context, g.production = c.Name, c.Production
	if c.URL != "" {
		g.nats = c.URL
	}
	g.creds, g.tlsCert, g.tlsKey, g.tlsCA = c.Creds, c.Cert, c.Key, c.CA
	g.readOnly = g.readOnly || c.ReadOnly
	return nil
}
