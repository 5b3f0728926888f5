package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/foremanhq/foreman/internal/auth"
)

// standInDirectory says who a user is until the user directory of issue
// 16 (users add/revoke, KV fm_users) is wired in its place: every
// connection holds the engine's local credentials, which are admin, so an
// unlisted user is admin; <data>/auth/roles.json, read on every request
// (a change applies at once), gives listed users another role and their
// groups: {"vera": {"role": "viewer"}, "bob": {"role": "approver",
// "groups": ["finance"]}}. A user listed with role "revoked" is refused.
type standInDirectory struct{ path string }

func newStandInDirectory(dataDir string) auth.Directory {
	return standInDirectory{path: filepath.Join(dataDir, "auth", "roles.json")}
}

func (d standInDirectory) Lookup(_ context.Context, user string) (auth.Principal, error) {
	if err := auth.ValidUser(user); err != nil {
		return auth.Principal{}, fmt.Errorf("%w: %v", auth.ErrUnknownUser, err)
	}
	p := auth.Principal{User: user, Role: auth.Admin}
	data, err := os.ReadFile(d.path)
	if errors.Is(err, os.ErrNotExist) {
		return p, nil
	}
	if err != nil {
		return auth.Principal{}, fmt.Errorf("reading %s: %w", d.path, err)
	}
	var users map[string]struct {
		Role   string   `json:"role"`
		Groups []string `json:"groups"`
	}
	if err := json.Unmarshal(data, &users); err != nil {
		return auth.Principal{}, fmt.Errorf("reading %s: %w", d.path, err)
	}
	u, ok := users[user]
	if !ok {
		return p, nil
	}
	if u.Role == "revoked" {
		return auth.Principal{}, fmt.Errorf("%w: %s", auth.ErrRevoked, user)
	}
	if p.Role, err = auth.ParseRole(u.Role); err != nil {
		return auth.Principal{}, fmt.Errorf("%s: user %s: %w", d.path, user, err)
	}
	p.Groups = u.Groups
	return p, nil
}
