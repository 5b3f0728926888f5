package main

import (
	"flag"
	"fmt"
	"io"
	"os/user"
	"sort"
	"strconv"
	"strings"
	"time"
)

// DefaultNATS is where the engine listens when nothing else is said.
const DefaultNATS = "nats://127.0.0.1:4222"

// globals are the flags every command accepts, before or after its name.
type globals struct {
	nats, identity, output string
	creds, tlsCert, tlsKey string
	tlsCA                  string
	readOnly, yes, noColor bool
	timeout                time.Duration
	// context is the connection profile applied (applyContext);
	// production is its mark, for the console's header.
	context    string
	production bool
}

// defaultGlobals reads the environment: FOREMAN_NATS, FOREMAN_IDENTITY,
// FOREMAN_READ_ONLY.
func defaultGlobals(getenv func(string) string) globals {
	g := globals{nats: DefaultNATS, output: formatTable}
	if v := getenv("FOREMAN_NATS"); v != "" {
		g.nats = v
	}
	g.identity = getenv("FOREMAN_IDENTITY")
	if g.identity == "" {
		if u, err := user.Current(); err == nil {
			g.identity = u.Username
		}
	}
	if g.identity == "" {
		g.identity = "unknown"
	}
	g.readOnly, _ = strconv.ParseBool(getenv("FOREMAN_READ_ONLY"))
	return g
}

// register defines the global flags on fs with their current values as
// defaults, so flags given before the command name survive a second parse.
func (g *globals) register(fs *flag.FlagSet) {
	fs.StringVar(&g.nats, "nats", g.nats, "NATS URL of the engine (env FOREMAN_NATS)")
	fs.StringVar(&g.identity, "identity", g.identity, "who you act as, recorded in history (env FOREMAN_IDENTITY; default the OS user)")
	fs.BoolVar(&g.readOnly, "read-only", g.readOnly, "refuse every write (env FOREMAN_READ_ONLY=1)")
	fs.StringVar(&g.output, "o", g.output, "output: table, json or jsonl")
	fs.StringVar(&g.output, "output", g.output, "output: table, json or jsonl")
	fs.DurationVar(&g.timeout, "timeout", g.timeout, "give up after this long (default 30s; none for --follow, --wait and batches, where it bounds each item)")
	fs.BoolVar(&g.yes, "yes", g.yes, "confirm destructive actions (required when stdin is not a terminal)")
	fs.BoolVar(&g.yes, "y", g.yes, "same as --yes")
	fs.BoolVar(&g.noColor, "no-color", g.noColor, "console: no colours (also NO_COLOR)")
	fs.StringVar(&g.creds, "creds", g.creds, "NATS credentials file")
	fs.StringVar(&g.tlsCert, "tls-cert", g.tlsCert, "client TLS certificate")
	fs.StringVar(&g.tlsKey, "tls-key", g.tlsKey, "client TLS key")
	fs.StringVar(&g.tlsCA, "tls-ca", g.tlsCA, "CA certificate to verify the server")
	fs.StringVar(&g.context, "context", g.context, "connection profile to use (foreman context; env "+contextEnv+")")
}

func (g *globals) validate() error {
	switch g.output {
	case formatTable, formatJSON, formatJSONL:
	default:
		return usagef("-o %q: want table, json or jsonl", g.output)
	}
	if g.timeout < 0 {
		return usagef("--timeout %s: must not be negative", g.timeout)
	}
	if g.identity == "" {
		return usagef("--identity: must not be empty")
	}
	return nil
}

// opts holds every command flag; each command defines the ones it takes.
type opts struct {
	run     string // --run: a specific run (default the current one)
	query   string // -q: the query of list/count, or of a batch
	input   string // --input: JSON inline, @FILE or -
	reason  string
	comment string

	// history
	follow            bool
	types             string // --type
	failures, compact bool
	// list / count
	sortBy  string
	limit   int
	all     bool
	groupBy string
	// reset
	to             string
	reapplySignals bool
	// context add
	url, description string
	production       bool
	// start
	id, queue, idReuse string
	wait               bool
	// compensate
	retry, skip bool
	// batches and previews
	dryRun   bool
	rate     float64
	parallel int
	batchID  string
	// update
	updateID, waitFor string
	// schedule
	schedule scheduleFlags
	// notify and stuck (cmd_notify.go)
	notify notifyOpts
}

func defineRun(fs *flag.FlagSet, o *opts) {
	fs.StringVar(&o.run, "run", "", "act on this run id instead of the workflow's current run")
}

func defineQuery(fs *flag.FlagSet, o *opts, what string) {
	fs.StringVar(&o.query, "q", "", what)
	fs.StringVar(&o.query, "query", "", what)
}

func defineInput(fs *flag.FlagSet, o *opts, what string) {
	fs.StringVar(&o.input, "input", "", what+": JSON inline, @FILE, or - for standard input")
}

// defineBatch adds the flags of batch mode to a write command.
func defineBatch(fs *flag.FlagSet, o *opts) {
	defineQuery(fs, o, "act on every run matching this query (a batch)")
	fs.BoolVar(&o.dryRun, "dry-run", false, "change nothing: show what would be done (with -q: the count and a sample)")
	fs.Float64Var(&o.rate, "rate", 50, "batch: at most this many actions per second (0: no limit)")
	fs.IntVar(&o.parallel, "parallel", 4, "batch: actions in flight at once")
	fs.StringVar(&o.batchID, "batch-id", "", "batch: resume the batch with this id (printed when a batch starts)")
	// results stream one per line (table, jsonl); -o json prints one array when the batch ends
}

// parseInterleaved parses flags wherever they appear among the positional
// arguments; "--" ends flags. It is already the standard library's idiom
// and stays: fs.Parse stops at the first positional, which is kept, and
// parses again from the one after. A "--" shows only as the last argument
// Parse consumed.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		consumed := len(args) - len(rest)
		if consumed > 0 && args[consumed-1] == "--" {
			return append(pos, rest...), nil
		}
		if len(rest) == 0 {
			return pos, nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// newFlagSet returns a flag set that reports errors instead of exiting
// and prints its help to w.
func newFlagSet(name string, w io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(w)
	return fs
}

// printDefaults prints fs's flags except the globals (listed once, by
// `foreman help`), aliases (-q, --query) on one line.
func printDefaults(w io.Writer, fs *flag.FlagSet) {
	g := newFlagSet("", io.Discard)
	(&globals{}).register(g)
	var flags []*flag.Flag
	fs.VisitAll(func(f *flag.Flag) {
		if g.Lookup(f.Name) == nil {
			flags = append(flags, f)
		}
	})
	if len(flags) == 0 {
		return
	}
	fmt.Fprintln(w, "\nFlags:")
	printed := map[*flag.Flag]bool{}
	for _, f := range flags {
		if printed[f] {
			continue
		}
		names := []string{}
		for _, alias := range flags {
			if alias.Value == f.Value {
				printed[alias] = true
				dash := "--"
				if len(alias.Name) == 1 {
					dash = "-"
				}
				names = append(names, dash+alias.Name)
			}
		}
		sort.Slice(names, func(i, j int) bool { return len(names[i]) < len(names[j]) })
		arg, usage := flag.UnquoteUsage(f)
		if arg == "string" {
			arg = "TEXT"
		} else if arg == "float" || arg == "int" {
			arg = "N"
		}
		head := "  " + strings.Join(names, ", ")
		if arg != "" {
			head += " " + arg
		}
		if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" {
			usage += " (default " + f.DefValue + ")"
		}
		fmt.Fprintf(w, "%-26s %s\n", head, usage)
	}
}
