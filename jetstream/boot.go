package jetstream

import (
	"context"
	"log/slog"

	"github.com/nats-io/nats.go"
)

// Node is a ready store with what it runs on: the embedded server (unless
// opts.NATSURL named an existing one) and the connection.
type Node struct {
	Store  *Store
	Conn   *nats.Conn
	Server *Server // nil when connected to an existing server
}

// Boot starts the embedded server (or connects to opts.NATSURL), connects
// and opens the store, creating or upgrading every stream and bucket.
func Boot(ctx context.Context, opts Options, log *slog.Logger) (*Node, error) {
	n := &Node{}
	var nc *nats.Conn
	var err error
	if opts.NATSURL == "" {
		if n.Server, err = StartEmbedded(opts, log); err != nil {
			return nil, err
		}
		nc, err = n.Server.Connect(ctx, opts)
	} else {
		nc, err = Connect(ctx, opts.NATSURL, opts)
	}
	if err != nil {
		n.Close()
		return nil, err
	}
	n.Conn = nc
	if n.Store, err = Open(ctx, nc, opts); err != nil {
		n.Close()
		return nil, err
	}
	if n.Server != nil {
		n.Server.SetShards(n.Store.Shards())
	}
	return n, nil
}

// URL is where clients and workers in other processes connect.
func (n *Node) URL() string {
	if n.Server != nil {
		return n.Server.ClientURL()
	}
	return n.Conn.ConnectedUrl()
}

// Close closes the store and the connection and shuts the embedded server down.
func (n *Node) Close() {
	if n.Store != nil {
		_ = n.Store.Close()
	}
	if n.Conn != nil {
		n.Conn.Close()
	}
	if n.Server != nil {
		n.Server.Shutdown()
	}
}
