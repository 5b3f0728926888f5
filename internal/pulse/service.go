package pulse

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/internal/backoff"
	"github.com/foremanhq/foreman/visibility/searchapi"
)

// Sources are where the service reads what Counters do not keep.
type Sources struct {
	Counters *Counters
	// Count counts runs in the index (stuck runs, running runs per queue).
	Count func(ctx context.Context, req searchapi.CountRequest) (searchapi.CountResult, error)
	// Lag is the index's lag behind history.
	Lag func(ctx context.Context) (searchapi.Lag, error)
	// Backlog reads the task queues' backlogs (jetstream Store.TaskBacklog).
	Backlog func(ctx context.Context) ([]engine.QueueBacklog, error)
	// Workers is the worker directory the service watches.
	Workers engine.WorkerDirectory
	// StuckAfter is how long a running run may go without a history event
	// before it counts as stuck (default 10 minutes, as the console's :stuck).
	StuckAfter time.Duration
	Now        func() time.Time
	Log        *slog.Logger
}

// Server serves a request subject (the jetstream Store).
type Server interface {
	ServeAPI(subject string, handler func(ctx context.Context, req []byte) []byte) (stop func(), err error)
}

const (
	// refreshEvery: a figure asked again within it is served from the
	// last computation, so consoles polling every second, however many,
	// cost the engine one computation a second.
	refreshEvery = 900 * time.Millisecond
	// slowEvery: the index counts (stuck, running per queue) are redone
	// at most this often; they move slowly and cost the most.
	slowEvery       = 5 * time.Second
	defaultSeconds  = 120
	latencySpan     = time.Minute
	maxBacklogQueue = 200
)

// Service computes the pulse figures and keeps the announced workers.
type Service struct {
	src Sources

	wmu     sync.Mutex
	workers map[string]engine.WorkerAnnouncement // by directory key

	mu       sync.Mutex // one computation at a time
	last     *searchapi.Pulse
	slowAt   time.Time
	running  map[string]uint64
	stuck    []searchapi.Group
	slowErrs []string
}

// NewService returns a service over src; Run watches the workers.
func NewService(src Sources) *Service {
	if src.Now == nil {
		src.Now = time.Now
	}
	if src.StuckAfter <= 0 {
		src.StuckAfter = 10 * time.Minute
	}
	if src.Log == nil {
		src.Log = slog.Default()
	}
	return &Service{src: src, workers: map[string]engine.WorkerAnnouncement{}}
}

// Serve answers SubjectPulse on srv until stop is called.
func (s *Service) Serve(srv Server) (stop func(), err error) {
	stop, err = srv.ServeAPI(searchapi.SubjectPulse, func(ctx context.Context, b []byte) []byte {
		var req searchapi.PulseRequest
		if len(b) > 0 {
			if err := json.Unmarshal(b, &req); err != nil {
				out, _ := json.Marshal(searchapi.ErrorBody{Error: &searchapi.APIError{Code: searchapi.CodeBadRequest, Message: "malformed pulse request: " + err.Error()}})
				return out
			}
		}
		out, _ := json.Marshal(s.Pulse(ctx, req))
		return out
	})
	if err != nil {
		return nil, fmt.Errorf("serving %s: %w", searchapi.SubjectPulse, err)
	}
	return stop, nil
}

// Run watches the worker directory until ctx ends, starting over after a
// failure (the workers seen so far are forgotten: the watch lists them
// again).
func (s *Service) Run(ctx context.Context) error {
	if s.src.Workers == nil {
		<-ctx.Done()
		return ctx.Err()
	}
	pause := backoff.Loop{Policy: backoff.Policy{Initial: 100 * time.Millisecond, Factor: 2, Max: 5 * time.Second}}
	for {
		err := s.src.Workers.WatchWorkers(ctx, s.onWorker)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if errors.Is(err, engine.ErrNotFound) {
			s.src.Log.Warn("no worker directory on this server: :queues shows no workers", "err", err)
		} else {
			s.src.Log.Warn("watching the worker directory failed; retrying", "err", err)
		}
		s.wmu.Lock()
		clear(s.workers)
		s.wmu.Unlock()
		if !pause.Wait(ctx) {
			return ctx.Err()
		}
	}
}

func (s *Service) onWorker(key string, data []byte) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if data == nil {
		delete(s.workers, key)
		return
	}
	var a engine.WorkerAnnouncement
	if json.Unmarshal(data, &a) != nil || a.Queue == "" {
		return
	}
	s.workers[key] = a
	if s.src.Counters != nil {
		s.src.Counters.ObserveScheduleToStart(a.LastSeen, a.ScheduleToStart, a.WorkflowScheduleToStart)
	}
}

// Workers returns the announced workers not expired at now.
func (s *Service) Workers(now time.Time) []engine.WorkerAnnouncement {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	out := make([]engine.WorkerAnnouncement, 0, len(s.workers))
	for _, a := range s.workers {
		if a.ExpiresAt.IsZero() || !a.ExpiresAt.Before(now) {
			out = append(out, a)
		}
	}
	return out
}

// Pulse returns the figures, computed at most once per refreshEvery.
func (s *Service) Pulse(ctx context.Context, req searchapi.PulseRequest) searchapi.Pulse {
	n := req.Seconds
	if n <= 0 {
		n = defaultSeconds
	}
	n = min(n, slots-1)
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.src.Now()
	if s.last == nil || now.Sub(s.last.At) >= refreshEvery || now.Before(s.last.At) {
		p := s.compute(ctx, now)
		s.last = &p
	}
	p := *s.last
	cut := func(v []uint32) []uint32 { return v[max(len(v)-n, 0):] }
	p.Started, p.Completed, p.Failed, p.ActivityFailures = cut(p.Started), cut(p.Completed), cut(p.Failed), cut(p.ActivityFailures)
	return p
}

func latencyOf(h *Hist) searchapi.Latency {
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	return searchapi.Latency{P50MS: ms(h.Quantile(0.5)), P99MS: ms(h.Quantile(0.99)), Count: h.Count()}
}

// compute reads every figure; a source that fails is named in Errors and
// the rest is still served. Called with mu held.
func (s *Service) compute(ctx context.Context, now time.Time) searchapi.Pulse {
	p := searchapi.Pulse{At: now, StuckAfter: s.src.StuckAfter.String()}
	if c := s.src.Counters; c != nil {
		ser := c.Series(slots - 1)
		p.Started, p.Completed, p.Failed, p.ActivityFailures, p.SeriesEnd = ser.Started, ser.Completed, ser.Failed, ser.ActivityFailures, ser.End
		dur, s2s, wfS2S := c.Latencies(latencySpan)
		p.RunDuration, p.ScheduleToStart, p.WorkflowScheduleToStart = latencyOf(&dur), latencyOf(&s2s), latencyOf(&wfS2S)
	}
	var backlog []engine.QueueBacklog
	if s.src.Backlog != nil {
		var err error
		if backlog, err = s.src.Backlog(ctx); err != nil {
			p.Errors = append(p.Errors, "task backlog: "+err.Error())
		}
	}
	if s.src.Lag != nil {
		lag, err := s.src.Lag(ctx)
		if err != nil {
			p.Errors = append(p.Errors, "index lag: "+err.Error())
		}
		p.IndexLag = lag
	}
	if now.Sub(s.slowAt) >= slowEvery || now.Before(s.slowAt) {
		s.slowAt = now
		s.readIndex(ctx)
	}
	p.Errors = append(p.Errors, s.slowErrs...)
	workers := s.Workers(now)
	p.Workers = len(workers)
	p.Queues = queueHealth(now, workers, backlog, s.running)
	p.Stuck = append(p.Stuck, s.stuck...)
	var orphaned uint64
	for _, q := range p.Queues {
		if q.WorkflowPollers == 0 {
			orphaned += q.Running
		}
	}
	if orphaned > 0 {
		p.Stuck = append(p.Stuck, searchapi.Group{Value: "no_worker", Count: orphaned})
	}
	return p
}

// readIndex counts running runs per queue and stuck runs per cause.
func (s *Service) readIndex(ctx context.Context) {
	s.slowErrs = nil
	if s.src.Count == nil {
		return
	}
	// Imported read-only copies (foreman import) are not run by anyone.
	running, err := s.src.Count(ctx, searchapi.CountRequest{Query: "status:running -imported:true", GroupBy: "task_queue"})
	if err != nil {
		s.slowErrs = append(s.slowErrs, "running runs: "+err.Error())
	} else {
		s.running = map[string]uint64{}
		for _, g := range running.Groups {
			s.running[g.Value] = g.Count
		}
	}
	q := "status:running -imported:true last_event_time:<now-" + compact(s.src.StuckAfter)
	stuck, err := s.src.Count(ctx, searchapi.CountRequest{Query: q, GroupBy: "waiting_on"})
	if err != nil {
		s.slowErrs = append(s.slowErrs, "stuck runs: "+err.Error())
		return
	}
	s.stuck = s.stuck[:0]
	var grouped uint64
	for _, g := range stuck.Groups {
		grouped += g.Count
		if g.Value == "" {
			g.Value = "no_progress"
		}
		s.stuck = append(s.stuck, g)
	}
	if stuck.Total > grouped {
		s.stuck = append(s.stuck, searchapi.Group{Value: "no_progress", Count: stuck.Total - grouped})
	}
}

// compact writes d as the query language's relative time wants it (10m, 90s).
func compact(d time.Duration) string {
	if d%time.Minute == 0 {
		return fmt.Sprintf("%dm", int(d/time.Minute))
	}
	return fmt.Sprintf("%ds", int(d/time.Second))
}

// queueHealth joins the workers, the backlogs and the running counts into
// one row per queue, the queues that need attention first.
func queueHealth(now time.Time, workers []engine.WorkerAnnouncement, backlog []engine.QueueBacklog, running map[string]uint64) []searchapi.QueueHealth {
	by := map[string]*searchapi.QueueHealth{}
	get := func(q string) *searchapi.QueueHealth {
		if h := by[q]; h != nil {
			return h
		}
		h := &searchapi.QueueHealth{Queue: q}
		by[q] = h
		return h
	}
	for _, w := range workers {
		h := get(w.Queue)
		if w.Polls(engine.WorkflowTaskKind) {
			h.WorkflowPollers++
		}
		if w.Polls(engine.ActivityTaskKind) {
			h.ActivityPollers++
		}
		h.Workers = append(h.Workers, searchapi.WorkerInfo{Identity: w.Identity, Version: w.Version, LastSeen: w.LastSeen,
			WorkflowSlots: [2]int{w.WorkflowSlots.InUse, w.WorkflowSlots.Max}, ActivitySlots: [2]int{w.ActivitySlots.InUse, w.ActivitySlots.Max}})
	}
	for _, b := range backlog {
		h := get(b.Queue)
		if b.Kind == engine.ActivityTaskKind {
			h.ActivityTasks += b.Tasks
		} else {
			h.WorkflowTasks += b.Tasks
		}
		if !b.Oldest.IsZero() {
			h.OldestTaskMS = max(h.OldestTaskMS, float64(max(now.Sub(b.Oldest), 0).Microseconds())/1000)
		}
	}
	for q, n := range running {
		if q != "" && n > 0 {
			get(q).Running = n
		}
	}
	out := make([]searchapi.QueueHealth, 0, len(by))
	for _, h := range by {
		h.NoWorker = h.WorkflowPollers == 0 && (h.WorkflowTasks > 0 || h.Running > 0) ||
			h.ActivityPollers == 0 && h.ActivityTasks > 0
		sort.Slice(h.Workers, func(i, j int) bool { return h.Workers[i].Identity < h.Workers[j].Identity })
		out = append(out, *h)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].NoWorker != out[j].NoWorker {
			return out[i].NoWorker
		}
		return out[i].Queue < out[j].Queue
	})
	return out
}
