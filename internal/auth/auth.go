// Package auth names who someone is to Foreman: a user, the role that user
// holds and, for workers, the task queues the credentials serve. It is a leaf
// package shared by the jetstream user directory (which decides what NATS lets
// a user publish) and the engine's operator layer (which decides what the
// engine lets them do). Which actions a role may perform is deliberately not
// here: the operator catalog owns that, so there is one place to change it.
package auth

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// Role is what a user may do. The set is closed: permissions are generated
// per role, so an unknown role must be refused rather than mapped to nothing.
type Role string

// The roles of issue 16.
const (
	Viewer   Role = "viewer"
	Operator Role = "operator"
	Approver Role = "approver"
	Worker   Role = "worker"
	Admin    Role = "admin"
)

// roles lists every role, least privileged first, for error messages.
var roles = []Role{Viewer, Operator, Approver, Worker, Admin}

// ParseRole reads a role name; an unknown name is an error naming the roles.
func ParseRole(s string) (Role, error) {
	r := Role(strings.ToLower(strings.TrimSpace(s)))
	for _, k := range roles {
		if r == k {
			return r, nil
		}
	}
	names := make([]string, len(roles))
	for i, k := range roles {
		names[i] = string(k)
	}
	return "", fmt.Errorf("unknown role %q (roles: %s)", s, strings.Join(names, ", "))
}

// userRE keeps user names a single NATS subject token (no '.', '*', '>' or
// spaces), because the name is the token of fm.api.act.<user>.> that NATS
// permissions pin each user to.
var userRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)

// ValidUser checks a user name is subject-safe: [a-z0-9][a-z0-9_-]{0,63}.
func ValidUser(name string) error {
	if !userRE.MatchString(name) {
		return fmt.Errorf("invalid user name %q: want [a-z0-9][a-z0-9_-]{0,63}", name)
	}
	return nil
}

// Principal is an authenticated user as the engine sees it.
type Principal struct {
	User   string   `json:"user"`
	Role   Role     `json:"role"`
	Groups []string `json:"groups,omitempty"`
	Queues []string `json:"queues,omitempty"` // worker credentials: the task queues they serve
}

// Directory answers who a user is now (revocation visible within ~1 s).
type Directory interface {
	Lookup(ctx context.Context, user string) (Principal, error) // ErrUnknownUser / ErrRevoked
}

// Lookup errors.
var (
	ErrUnknownUser = errors.New("auth: unknown user")
	ErrRevoked     = errors.New("auth: user revoked")
)
