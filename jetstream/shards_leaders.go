package jetstream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	natsjs "github.com/nats-io/nats.go/jetstream"
)

// Where the shards' leaders sit. A replicated stream's leader is elected
// by its peers, and on a 3-node cluster three shards land on three
// different leaders only 2 times in 9 by chance; shards whose leaders
// share a node give no more throughput than one stream. So an engine
// opening a sharded, replicated store moves leaders (a stepdown naming
// the preferred peer, nats-server 2.11+) until no node leads more shards
// of a kind than another that could lead one more. It is a no-op once
// spread, so engines starting together converge rather than fight.

type leaderStepdown struct {
	Placement struct {
		Preferred string `json:"preferred"`
	} `json:"placement"`
}

// spreadLeadersFor is how long a store opened on a sharded, replicated
// layout keeps trying to spread the leaders: the replicas of streams just
// created are not current at once, and only a current one can lead.
const spreadLeadersFor = 30 * time.Second

// spreadLeaders spreads the leaders of the history shards, and of the task
// shards, over their current peers, in the background (retried every
// second until spread, for spreadLeadersFor or until Close). A failure is
// logged: placement is an optimisation, never a reason not to start.
func (s *Store) spreadLeaders() {
	if !s.lay.sharded() || s.opts.Replicas < 2 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), spreadLeadersFor)
	s.stopSpread = cancel
	go func() {
		defer cancel()
		for {
			moved := 0
			var err error
			for _, group := range [][]natsjs.Stream{s.histShards, s.taskShards} {
				n, gerr := s.spreadGroup(ctx, group)
				moved, err = moved+n, errors.Join(err, gerr)
			}
			if err == nil && moved == 0 {
				return
			}
			select {
			case <-ctx.Done():
				if err != nil {
					s.log.Warn("spreading shard leaders over the cluster", "err", err)
				}
				return
			case <-time.After(time.Second):
			}
		}
	}()
}

// spreadGroup moves leaders of group's streams where that evens their
// load, and returns how many it moved.
func (s *Store) spreadGroup(ctx context.Context, group []natsjs.Stream) (moved int, err error) {
	leaders := make([]string, len(group))
	peers := make([][]string, len(group))
	load := map[string]int{}
	for i, st := range group {
		rctx, cancel := withRequestTimeout(ctx, defaultTimeout)
		info, err := st.Info(rctx)
		cancel()
		if err != nil {
			return 0, err
		}
		if info.Cluster == nil || info.Cluster.Leader == "" {
			return 0, fmt.Errorf("stream %s has no leader yet", info.Config.Name)
		}
		leaders[i] = info.Cluster.Leader
		load[leaders[i]]++
		for _, p := range info.Cluster.Replicas {
			if p.Current && !p.Offline {
				peers[i] = append(peers[i], p.Name)
			}
		}
	}
	for i, st := range group {
		// The least-loaded current peer of this stream, if moving there
		// evens the load.
		best := ""
		for _, p := range peers[i] {
			if best == "" || load[p] < load[best] {
				best = p
			}
		}
		if best == "" || load[best]+1 >= load[leaders[i]] {
			continue
		}
		name := st.CachedInfo().Config.Name
		var req leaderStepdown
		req.Placement.Preferred = best
		body, _ := json.Marshal(req)
		rctx, cancel := withRequestTimeout(ctx, defaultTimeout)
		resp, err := s.nc.RequestWithContext(rctx, apiPrefix+"STREAM.LEADER.STEPDOWN."+name, body)
		cancel()
		if err != nil {
			return moved, fmt.Errorf("moving the leader of %s to %s: %w", name, best, err)
		}
		var r struct {
			Error *natsjs.APIError `json:"error"`
		}
		if json.Unmarshal(resp.Data, &r) == nil && r.Error != nil {
			return moved, fmt.Errorf("moving the leader of %s to %s: %w", name, best, r.Error)
		}
		s.log.Info("moved a shard's stream leader", "stream", name, "from", leaders[i], "to", best)
		load[leaders[i]]--
		load[best]++
		leaders[i] = best
		moved++
	}
	return moved, nil
}

// ShardLeaders names the server leading each history shard's stream ("" if
// none), for operators and tests.
func (s *Store) ShardLeaders(ctx context.Context) ([]string, error) {
	out := make([]string, len(s.histShards))
	for i, st := range s.histShards {
		rctx, cancel := withRequestTimeout(ctx, defaultTimeout)
		info, err := st.Info(rctx)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("reading the leader of %s: %w", s.lay.historyStream(i), err)
		}
		if info.Cluster != nil {
			out[i] = info.Cluster.Leader
		}
	}
	return out, nil
}
