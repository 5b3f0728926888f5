package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/foremanhq/foreman/jetstream"
)

// contextCmd manages the profiles; it never connects.
var contextCmd = &command{
	name: "context", group: groupConn, flags: defineContextFlags, run: runContext,
	args:    "[list|add NAME|use NAME|show [NAME]|remove NAME]",
	summary: "named connection profiles: URL, credentials, TLS, read-only, production",
}

func defineContextFlags(fs *flag.FlagSet, o *opts) {
	// --creds, --tls-cert, --tls-key, --tls-ca and --read-only are the
	// global flags: add saves what they say.
	fs.StringVar(&o.url, "url", "", "add: the engine's NATS URL (default --nats); --creds, --tls-*, --read-only are saved too")
	fs.StringVar(&o.description, "description", "", "add: what this context is")
	fs.BoolVar(&o.production, "production", false, "add: mark the context as production (a badge in the console's header)")
}

func runContext(_ context.Context, a *app, o *opts, args []string) error {
	sub := "list"
	if len(args) > 0 {
		sub, args = args[0], args[1:]
	}
	want := map[string][2]int{"list": {0, 0}, "add": {1, 1}, "use": {1, 1}, "show": {0, 1}, "remove": {1, 1}, "rm": {1, 1}}
	n, ok := want[sub]
	if !ok {
		return usagef("context: unknown subcommand %q (want list, add, use, show or remove)", sub)
	}
	if len(args) < n[0] || len(args) > n[1] {
		return usagef("context %s: wrong number of arguments %q", sub, args)
	}
	switch sub {
	case "add":
		return addContext(a, o, args[0])
	case "use":
		if _, err := loadContext(args[0]); err != nil {
			return err
		}
		if err := selectContext(args[0]); err != nil {
			return err
		}
		a.infof("using context %q", args[0])
		return nil
	case "remove", "rm":
		path, err := contextPath(args[0])
		if err != nil {
			return err
		}
		if _, err := loadContext(args[0]); err != nil {
			return err
		}
		if selectedContext() == args[0] {
			if err := selectContext(""); err != nil {
				return err
			}
		}
		if err := os.Remove(path); err != nil {
			return err
		}
		a.infof("removed context %q", args[0])
		return nil
	case "show":
		name := selectedContext()
		if len(args) == 1 {
			name = args[0]
		}
		if name == "" {
			return fmt.Errorf("%w: none selected (foreman context use NAME)", errNoContext)
		}
		c, err := loadContext(name)
		if err != nil {
			return err
		}
		return showContext(a, c)
	}
	cs, err := listContexts()
	if err != nil {
		return err
	}
	if a.out.format != formatTable {
		return list(a.out, cs)
	}
	sel := selectedContext()
	t := &table{header: []string{"", "NAME", "URL", "USER", "FLAGS", "DESCRIPTION"}}
	for _, c := range cs {
		mark := ""
		if c.Name == sel {
			mark = "*"
		}
		t.add(mark, c.Name, c.URL, principalOf(c), contextFlags(c), c.Description)
	}
	return t.print(a.io.out)
}

// addContext saves the connection the global flags describe (--creds,
// --tls-*, --read-only) under name, replacing a context of that name.
func addContext(a *app, o *opts, name string) error {
	c := &fmContext{Name: name, Description: o.description, URL: o.url, ReadOnly: a.g.readOnly, Production: o.production}
	if c.URL == "" {
		c.URL = a.g.nats
	}
	for dst, src := range map[*string]string{&c.Creds: a.g.creds, &c.Cert: a.g.tlsCert, &c.Key: a.g.tlsKey, &c.CA: a.g.tlsCA} {
		if src == "" {
			continue
		}
		// Absolute: the context is used from any directory.
		abs, err := filepath.Abs(src)
		if err != nil {
			return err
		}
		*dst = abs
	}
	if err := saveContext(c); err != nil {
		return err
	}
	a.infof("saved context %q (%s); select it with foreman context use %s, or pass --context %s", name, c.URL, name, name)
	return nil
}

func showContext(a *app, c *fmContext) error {
	if a.out.format != formatTable {
		return a.out.value(c)
	}
	sel := ""
	if selectedContext() == c.Name {
		sel = " (selected)"
	}
	fmt.Fprintf(a.io.out, "context:     %s%s\n", c.Name, sel)
	for _, kv := range [][2]string{
		{"description", c.Description}, {"url", c.URL}, {"user", principalOf(c)}, {"creds", c.Creds},
		{"tls cert", c.Cert}, {"tls key", c.Key}, {"tls ca", c.CA}, {"flags", contextFlags(c)},
	} {
		if kv[1] != "" {
			fmt.Fprintf(a.io.out, "%-12s %s\n", kv[0]+":", kv[1])
		}
	}
	return nil
}

// principalOf is the user the context's credentials name (or, without a
// file, the engine's local credentials of this OS user).
func principalOf(c *fmContext) string {
	if c.Creds == "" {
		return "(local) " + jetstream.LocalUser()
	}
	if u := jetstream.CredsUser(c.Creds); u != "" {
		return u
	}
	return "?"
}

func contextFlags(c *fmContext) string {
	var f []string
	if c.Production {
		f = append(f, "production")
	}
	if c.ReadOnly {
		f = append(f, "read-only")
	}
	if len(f) == 0 {
		return "-"
	}
	return strings.Join(f, ",")
}
