package main

import (
	"testing"

	"github.com/foremanhq/foreman/jetstream"
)

// Which connection a command gets: --context and FOREMAN_CONTEXT beat
// FOREMAN_NATS; the selected context yields to --nats and FOREMAN_NATS
// (its credentials are another server's); flags parsed later win anyway.
func TestContextPrecedence(t *testing.T) {
	t.Setenv(jetstream.ConfigDirEnv, t.TempDir())
	for _, c := range []*fmContext{
		{Name: "prod", URL: "nats://prod:4222", Creds: "/k/prod.nk", CA: "/k/ca.pem", ReadOnly: true, Production: true},
		{Name: "dev", URL: "nats://dev:4222"},
	} {
		if err := saveContext(c); err != nil {
			t.Fatal(err)
		}
	}
	if err := selectContext("dev"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
		want string // URL the command dials
		prod bool
	}{
		{"selected", []string{"list"}, nil, "nats://dev:4222", false},
		{"flag", []string{"--context", "prod", "list"}, nil, "nats://prod:4222", true},
		{"flag=", []string{"list", "--context=prod"}, nil, "nats://prod:4222", true},
		{"env context", []string{"list"}, map[string]string{contextEnv: "prod"}, "nats://prod:4222", true},
		{"explicit beats FOREMAN_NATS", []string{"--context", "prod", "list"}, map[string]string{"FOREMAN_NATS": "nats://env:1"}, "nats://prod:4222", true},
		{"FOREMAN_NATS beats selected", []string{"list"}, map[string]string{"FOREMAN_NATS": "nats://env:1"}, "nats://env:1", false},
		{"--nats beats selected", []string{"--nats", "nats://flag:1", "list"}, nil, "nats://flag:1", false},
		{"--nats beats the context's URL", []string{"--context", "prod", "--nats", "nats://flag:1", "list"}, nil, "nats://flag:1", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			getenv := func(k string) string { return tc.env[k] }
			g := defaultGlobals(getenv)
			if err := g.applyContext(tc.args, getenv); err != nil {
				t.Fatal(err)
			}
			fs := newFlagSet("t", nil)
			g.register(fs)
			if _, err := parseInterleaved(fs, tc.args); err != nil {
				t.Fatal(err)
			}
			if g.nats != tc.want || g.production != tc.prod {
				t.Fatalf("url %q production %v, want %q %v", g.nats, g.production, tc.want, tc.prod)
			}
			if tc.prod && (g.creds != "/k/prod.nk" || g.tlsCA != "/k/ca.pem" || !g.readOnly) {
				t.Fatalf("prod context not applied whole: %+v", g)
			}
		})
	}
	if err := selectContext("gone"); err != nil {
		t.Fatal(err)
	}
	g := defaultGlobals(func(string) string { return "" })
	if err := g.applyContext([]string{"list"}, func(string) string { return "" }); err == nil {
		t.Fatal("a selected context that does not exist was ignored")
	}
}
