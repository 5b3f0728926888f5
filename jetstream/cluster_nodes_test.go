package jetstream_test

import (
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/foremanhq/foreman/jetstream"
	"github.com/foremanhq/foreman/jetstream/jstest"
	"github.com/nats-io/nats-server/v2/server"
)

// testCluster is an in-process NATS cluster whose nodes can be shut down
// hard and restarted on the same ports and store directories, as a machine
// that dies and comes back.
type testCluster struct {
	t    testing.TB
	mu   sync.Mutex
	opts []*server.Options
	srv  []*server.Server // nil while a node is down
	urls []string
}

// newTestCluster starts n clustered JetStream servers on fixed ports.
func newTestCluster(t testing.TB, n int) *testCluster {
	t.Helper()
	clientPorts, routePorts := freePorts(t, n), freePorts(t, n)
	var routes []*url.URL
	for _, p := range routePorts {
		routes = append(routes, &url.URL{Scheme: "nats", Host: fmt.Sprintf("127.0.0.1:%d", p)})
	}
	c := &testCluster{t: t, srv: make([]*server.Server, n)}
	dir := t.TempDir()
	for i := range n {
		c.opts = append(c.opts, &server.Options{
			ServerName: fmt.Sprintf("n%d", i), Host: "127.0.0.1", Port: clientPorts[i], NoSigs: true,
			JetStream: true, StoreDir: filepath.Join(dir, fmt.Sprintf("n%d", i)),
			Cluster: server.ClusterOpts{Name: "foreman-test", Host: "127.0.0.1", Port: routePorts[i]},
			Routes:  routes,
		})
		c.urls = append(c.urls, fmt.Sprintf("nats://127.0.0.1:%d", clientPorts[i]))
	}
	for i := range n {
		c.start(i)
	}
	t.Cleanup(func() {
		for i := range n {
			c.kill(i)
		}
	})
	c.waitCurrent(30 * time.Second)
	c.waitPeers(30 * time.Second)
	return c
}

// waitPeers waits until the meta leader counts every node as a current
// peer: before that, an R3 stream finds "no suitable peers for placement".
func (c *testCluster) waitPeers(d time.Duration) {
	c.t.Helper()
	deadline := time.Now().Add(d)
	for !c.allPeersCurrent() {
		if time.Now().After(deadline) {
			c.t.Fatal("the meta leader does not see every node")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (c *testCluster) allPeersCurrent() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return jstest.MetaPeersCurrent(c.srv)
}

// freePorts returns n ports free at the time of the call.
func freePorts(t testing.TB, n int) []int {
	ports := make([]int, n)
	var ls []net.Listener
	for i := range ports {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
		ports[i] = l.Addr().(*net.TCPAddr).Port
	}
	for _, l := range ls {
		l.Close()
	}
	return ports
}

// URL is every node's client URL, comma-separated: what a client of the
// whole cluster dials, so it reconnects to a survivor.
func (c *testCluster) URL() string { return strings.Join(c.urls, ",") }

func (c *testCluster) start(i int) {
	c.t.Helper()
	o := *c.opts[i]
	s, err := server.NewServer(&o)
	if err != nil {
		c.t.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(20 * time.Second) {
		c.t.Fatalf("node n%d did not start", i)
	}
	c.mu.Lock()
	c.srv[i] = s
	c.mu.Unlock()
}

// kill shuts node i down at once (no lame-duck mode, no leader transfer).
func (c *testCluster) kill(i int) {
	c.mu.Lock()
	s := c.srv[i]
	c.srv[i] = nil
	c.mu.Unlock()
	if s != nil {
		s.Shutdown()
		s.WaitForShutdown()
	}
}

// waitCurrent waits until every running node sees a JetStream meta leader.
func (c *testCluster) waitCurrent(d time.Duration) {
	c.t.Helper()
	deadline := time.Now().Add(d)
	for i := range c.srv {
		c.mu.Lock()
		s := c.srv[i]
		c.mu.Unlock()
		for s != nil && !s.JetStreamIsCurrent() {
			if time.Now().After(deadline) {
				c.t.Fatal("the cluster elected no JetStream meta leader")
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// streamLeader is the index of the node leading stream, or -1.
func (c *testCluster) streamLeader(stream string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, s := range c.srv {
		if s != nil && s.JetStreamIsStreamLeader(server.DEFAULT_GLOBAL_ACCOUNT, stream) {
			return i
		}
	}
	return -1
}

// nodeOf is the index of the node whose client URL node's connection uses.
func (c *testCluster) nodeOf(n *jetstream.Node) int {
	for i, u := range c.urls {
		if u == n.Conn.ConnectedUrl() {
			return i
		}
	}
	return -1
}
