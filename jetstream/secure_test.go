package jetstream_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/jetstream"
	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nkeys"
)

// A platform team's NATS: a separate server in operator (JWT) mode that
// requires TLS with client certificates. Boot with --nats, a credentials
// file and the TLS files creates the layout and works; missing credentials
// or a missing client certificate are refused with an error that says so.
func TestExistingServerWithCredsAndTLS(t *testing.T) {
	dir := t.TempDir()
	pki := newPKI(t, dir)
	creds, srvOpts := operatorMode(t, dir)
	srvOpts.Host, srvOpts.Port = "127.0.0.1", -1
	srvOpts.JetStream, srvOpts.StoreDir = true, filepath.Join(dir, "js")
	srvOpts.TLSConfig, srvOpts.TLS, srvOpts.TLSVerify = pki.serverTLS, true, true
	srvOpts.NoSigs = true
	srv, err := server.NewServer(srvOpts)
	if err != nil {
		t.Fatal(err)
	}
	go srv.Start()
	t.Cleanup(srv.Shutdown)
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server did not start")
	}
	url := strings.Replace(srv.ClientURL(), "nats://", "tls://", 1)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	good := jetstream.Options{NATSURL: url, CredsFile: creds, TLSCert: pki.clientCert, TLSKey: pki.clientKey, TLSCA: pki.ca, Replicas: 1, Name: "secure-test"}
	node, err := jetstream.Boot(ctx, good, nil)
	if err != nil {
		t.Fatalf("boot against the secured server: %v", err)
	}
	defer node.Close()
	if node.Server != nil {
		t.Fatal("--nats must not start an embedded server")
	}
	h := engine.BatchHeader{RunID: "r1", WorkflowID: "wf", TaskQueue: "q", Kind: engine.BatchExternal, FirstEventID: 1, LastEventID: 1}
	if _, err := node.Store.AppendHistory(ctx, h, []byte(`{"kind":"external","events":[]}`), 0, ""); err != nil {
		t.Fatalf("append over TLS with credentials: %v", err)
	}
	if got, err := node.Store.ReadHistory(ctx, "r1", 0); err != nil || len(got) != 1 {
		t.Fatalf("read back: %d batches, %v", len(got), err)
	}

	for _, tc := range []struct {
		name string
		mod  func(o *jetstream.Options)
		want string
	}{
		{"no credentials", func(o *jetstream.Options) { o.CredsFile = "" }, "uthorization"},
		{"no client certificate", func(o *jetstream.Options) { o.TLSCert, o.TLSKey = "", "" }, "connecting to"},
		{"unknown CA", func(o *jetstream.Options) { o.TLSCA = "" }, "certificate"},
		{"missing creds file", func(o *jetstream.Options) { o.CredsFile = filepath.Join(dir, "nope.creds") }, "nope.creds"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := good
			tc.mod(&o)
			cctx, ccancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer ccancel()
			n, err := jetstream.Boot(cctx, o, nil)
			if err == nil {
				n.Close()
				t.Fatal("connected without it")
			}
			t.Logf("%s: %v", tc.name, err)
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not mention %q", err, tc.want)
			}
		})
	}
}

// operatorMode configures a server that trusts one operator, with an
// account that may use JetStream, and writes a user's credentials file.
func operatorMode(t *testing.T, dir string) (credsPath string, opts *server.Options) {
	t.Helper()
	must := func(err error) {
		if err != nil {
			t.Helper()
			t.Fatal(err)
		}
	}
	okp, err := nkeys.CreateOperator()
	must(err)
	opub, _ := okp.PublicKey()
	sys, _ := nkeys.CreateAccount()
	syspub, _ := sys.PublicKey()
	acc, _ := nkeys.CreateAccount()
	accpub, _ := acc.PublicKey()
	user, _ := nkeys.CreateUser()
	userpub, _ := user.PublicKey()
	seed, _ := user.Seed()

	oc := jwt.NewOperatorClaims(opub)
	oc.SystemAccount = syspub
	_, err = oc.Encode(okp)
	must(err)
	sc := jwt.NewAccountClaims(syspub)
	sysJWT, err := sc.Encode(okp)
	must(err)
	ac := jwt.NewAccountClaims(accpub)
	ac.Limits.JetStreamLimits = jwt.JetStreamLimits{MemoryStorage: -1, DiskStorage: -1, Streams: -1, Consumer: -1, MaxAckPending: -1}
	accJWT, err := ac.Encode(okp)
	must(err)
	uc := jwt.NewUserClaims(userpub)
	userJWT, err := uc.Encode(acc)
	must(err)
	creds, err := jwt.FormatUserConfig(userJWT, seed)
	must(err)
	credsPath = filepath.Join(dir, "user.creds")
	must(os.WriteFile(credsPath, creds, 0o600))

	resolver := &server.MemAccResolver{}
	must(resolver.Store(syspub, sysJWT))
	must(resolver.Store(accpub, accJWT))
	return credsPath, &server.Options{TrustedOperators: []*jwt.OperatorClaims{oc}, AccountResolver: resolver, SystemAccount: syspub}
}

type pki struct {
	ca, clientCert, clientKey string // file paths
	serverCert, serverKey     string // file paths
	serverTLS                 *tls.Config
}

// newPKI makes a CA, a server certificate for 127.0.0.1 and a client
// certificate, and a server TLS config that requires client certificates.
func newPKI(t *testing.T, dir string) pki {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "foreman test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	leaf := func(serial int64, usage x509.ExtKeyUsage) ([]byte, *ecdsa.PrivateKey) {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "foreman"},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), ExtKeyUsage: []x509.ExtKeyUsage{usage},
			KeyUsage: x509.KeyUsageDigitalSignature, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		return der, key
	}
	write := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	keyDER := func(k *ecdsa.PrivateKey) []byte { b, _ := x509.MarshalECPrivateKey(k); return b }
	var p pki
	p.ca = write("ca.pem", "CERTIFICATE", caDER)
	cDER, cKey := leaf(2, x509.ExtKeyUsageClientAuth)
	p.clientCert, p.clientKey = write("client.pem", "CERTIFICATE", cDER), write("client-key.pem", "EC PRIVATE KEY", keyDER(cKey))
	sDER, sKey := leaf(3, x509.ExtKeyUsageServerAuth)
	p.serverCert, p.serverKey = write("server.pem", "CERTIFICATE", sDER), write("server-key.pem", "EC PRIVATE KEY", keyDER(sKey))
	pool := x509.NewCertPool()
	pool.AddCert(caCert)
	p.serverTLS = &tls.Config{
		Certificates: []tls.Certificate{{Certificate: [][]byte{sDER}, PrivateKey: sKey}},
		ClientCAs:    pool, ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS12,
	}
	return p
}
