// gopeer: a TLS client or echo server on Go's crypto/tls (standard library only),
// driven by tests/interop/test_peer_go.py. Everything stays on 127.0.0.1.
//
//	gopeer client -port P -ca CA.pem [-sni NAME] [-alpn a,b] [-groups x25519,secp256r1,secp384r1]
//	              [-send TEXT] [-bulk N] [-close us|peer] [-cert CLIENT.pem -key CLIENT.key]
//	              [-suites c02f,...] [-tls12] [-connections N] [-no-tickets]
//	gopeer server -cert CERT.pem -key KEY.pem [-alpn a,b] [-groups ...] [-close-after N]
//	              [-suites c02f,...] [-tls12] [-client-ca CA.pem] [-connections N] [-no-tickets]
//
// A client given -cert/-key answers a CertificateRequest with that chain (if it fits what the
// server asks for); a server given -client-ca requires a client certificate and verifies it
// against that CA (RequireAndVerifyClientCert). HANDSHAKE reports the peer's leaf (peer=CN)
// and whether crypto/tls verified a chain for it (peer_verified).
//
// The client sends TEXT (or N bytes in mixed write sizes), reads the echo while it
// writes, then closes first (close_notify, then waits for the server's) or waits for
// the server's close_notify. The server echoes one connection and prints what it
// negotiated. Both print "HANDSHAKE ..." and "RESULT ..." lines; failures print
// "FAIL ..." and exit 1.
//
// -suites names the TLS 1.2 suites (hex ids) instead of Go's defaults, in either role: Go 1.22 took
// the static RSA key exchange (TLS_RSA_WITH_*) out of its defaults, and a suite named here is on
// without GODEBUG=tlsrsakex=1.
//
// With -connections N, the client makes N connections one after the other with one session cache
// (tls.NewLRUClientSessionCache), and the server accepts N with one tls.Config (its ticket keys);
// HANDSHAKE says whether each resumed (resumed=, ConnectionState().DidResume). crypto/tls resumes
// by RFC 5077 ticket only, in both roles: it keeps no session IDs. -no-tickets sets
// SessionTicketsDisabled.
package main

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"hash"
	"io"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
)

var mixedSizes = []int{1, 7, 100, 1000, 4096, 16383, 16384, 16385, 40000, 65536, 100003, 262144, 1048576, 3}

var groupIDs = map[string]tls.CurveID{"x25519": tls.X25519, "secp256r1": tls.CurveP256, "secp384r1": tls.CurveP384}

var versionNames = map[uint16]string{tls.VersionTLS10: "TLSv1.0", tls.VersionTLS11: "TLSv1.1",
	tls.VersionTLS12: "TLSv1.2", tls.VersionTLS13: "TLSv1.3"}

func fail(format string, args ...any) {
	fmt.Printf("FAIL "+format+"\n", args...)
	os.Exit(1)
}

func split(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

// cipherSuites parses -suites: nil (Go's defaults) when empty.
func cipherSuites(s string) []uint16 {
	var out []uint16
	for _, name := range split(s) {
		id, err := strconv.ParseUint(name, 16, 16)
		if err != nil {
			fail("bad suite %q", name)
		}
		out = append(out, uint16(id))
	}
	return out
}

func groups(s string) []tls.CurveID {
	var out []tls.CurveID
	for _, name := range split(s) {
		id, ok := groupIDs[name]
		if !ok {
			fail("unknown group %q", name)
		}
		out = append(out, id)
	}
	return out
}

func describe(st tls.ConnectionState) string {
	alpn := st.NegotiatedProtocol
	if alpn == "" {
		alpn = "-"
	}
	sni := st.ServerName
	if sni == "" {
		sni = "-"
	}
	peer := "-"
	if len(st.PeerCertificates) > 0 {
		peer = strings.ReplaceAll(st.PeerCertificates[0].Subject.CommonName, " ", "_")
	}
	return fmt.Sprintf("HANDSHAKE version=%s cipher=%s alpn=%s sni=%s peer=%s peer_verified=%t resumed=%t lib=%s",
		versionNames[st.Version], tls.CipherSuiteName(st.CipherSuite), alpn, sni, peer, len(st.VerifiedChains) > 0,
		st.DidResume, runtime.Version())
}

// counter hashes and counts a byte stream.
type counter struct {
	n int64
	h hash.Hash
}

func newCounter() *counter { return &counter{h: sha256.New()} }

func (c *counter) add(b []byte) { c.n += int64(len(b)); c.h.Write(b) }

func (c *counter) sum() string { return hex.EncodeToString(c.h.Sum(nil)) }

func main() {
	if len(os.Args) < 2 {
		fail("usage: gopeer client|server ...")
	}
	mode := os.Args[1]
	fs := flag.NewFlagSet(mode, flag.ExitOnError)
	port := fs.Int("port", 0, "server port (client)")
	ca := fs.String("ca", "", "CA certificate PEM (client)")
	sni := fs.String("sni", "localhost", "server name (client)")
	cert := fs.String("cert", "", "certificate chain PEM (server; client: its client certificate)")
	key := fs.String("key", "", "private key PEM (server; client: its client key)")
	clientCA := fs.String("client-ca", "", "server: require a client certificate from this CA (PEM)")
	alpn := fs.String("alpn", "", "ALPN protocols, comma-separated")
	grp := fs.String("groups", "", "ECDHE groups, comma-separated")
	send := fs.String("send", "", "text to send (client)")
	bulk := fs.Int64("bulk", 0, "bytes to send in mixed write sizes (client)")
	closeBy := fs.String("close", "us", "who sends close_notify first: us or peer (client)")
	closeAfter := fs.Int64("close-after", -1, "server: send close_notify first after echoing this many bytes")
	suites := fs.String("suites", "", "TLS 1.2 cipher suites, hex ids, comma-separated (default: Go's defaults)")
	tls12 := fs.Bool("tls12", false, "TLS 1.2 only")
	connections := fs.Int("connections", 1, "connections, one after the other, resuming where the peer lets")
	noTickets := fs.Bool("no-tickets", false, "disable session tickets (SessionTicketsDisabled)")
	timeout := fs.Duration("timeout", 60*time.Second, "overall deadline")
	if err := fs.Parse(os.Args[2:]); err != nil {
		fail("%v", err)
	}
	deadline := time.Now().Add(*timeout)
	switch mode {
	case "client":
		pem, err := os.ReadFile(*ca)
		if err != nil {
			fail("%v", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			fail("no certificate in %s", *ca)
		}
		cfg := &tls.Config{RootCAs: pool, ServerName: *sni, NextProtos: split(*alpn), CurvePreferences: groups(*grp),
			CipherSuites: cipherSuites(*suites)}
		if *cert != "" {
			pair, err := tls.LoadX509KeyPair(*cert, *key)
			if err != nil {
				fail("%v", err)
			}
			cfg.Certificates = []tls.Certificate{pair}
		}
		if *tls12 {
			cfg.MaxVersion = tls.VersionTLS12
		}
		cfg.SessionTicketsDisabled = *noTickets
		if *connections > 1 {
			cfg.ClientSessionCache = tls.NewLRUClientSessionCache(4)
		}
		for i := 0; i < *connections; i++ {
			d := &net.Dialer{Timeout: 10 * time.Second, Deadline: deadline}
			conn, err := tls.DialWithDialer(d, "tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(*port)), cfg)
			if err != nil {
				fail("handshake: %v", err)
			}
			conn.SetDeadline(deadline)
			fmt.Println(describe(conn.ConnectionState()))
			client(conn, []byte(*send), *bulk, *closeBy)
		}
	case "server":
		pair, err := tls.LoadX509KeyPair(*cert, *key)
		if err != nil {
			fail("%v", err)
		}
		cfg := &tls.Config{Certificates: []tls.Certificate{pair}, NextProtos: split(*alpn), CurvePreferences: groups(*grp),
			CipherSuites: cipherSuites(*suites)}
		if *tls12 {
			cfg.MaxVersion = tls.VersionTLS12
		}
		cfg.SessionTicketsDisabled = *noTickets
		if *clientCA != "" {
			pem, err := os.ReadFile(*clientCA)
			if err != nil {
				fail("%v", err)
			}
			cfg.ClientCAs = x509.NewCertPool()
			if !cfg.ClientCAs.AppendCertsFromPEM(pem) {
				fail("no certificate in %s", *clientCA)
			}
			cfg.ClientAuth = tls.RequireAndVerifyClientCert
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			fail("%v", err)
		}
		fmt.Printf("LISTENING %d\n", ln.Addr().(*net.TCPAddr).Port)
		ln.(*net.TCPListener).SetDeadline(deadline)
		for i := 0; i < *connections; i++ {
			raw, err := ln.Accept()
			if err != nil {
				fail("accept: %v", err)
			}
			if i == *connections-1 {
				ln.Close()
			}
			raw.SetDeadline(deadline)
			conn := tls.Server(raw, cfg)
			if err := conn.Handshake(); err != nil {
				fail("handshake: %v", err)
			}
			fmt.Println(describe(conn.ConnectionState()))
			server(conn, *closeAfter)
		}
	default:
		fail("unknown mode %q", mode)
	}
}

func client(conn *tls.Conn, message []byte, bulk int64, closeBy string) {
	sent, received := newCounter(), newCounter()
	total := int64(len(message)) + bulk
	var wg sync.WaitGroup
	var werr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		if len(message) > 0 {
			if _, werr = conn.Write(message); werr != nil {
				return
			}
			sent.add(message)
		}
		buf := make([]byte, 1<<20)
		for i := 0; sent.n < total; i++ {
			n := mixedSizes[i%len(mixedSizes)]
			if rem := total - sent.n; int64(n) > rem {
				n = int(rem)
			}
			chunk := buf[:n]
			for j := range chunk {
				chunk[j] = byte(i*31 + j*7)
			}
			if _, werr = conn.Write(chunk); werr != nil {
				return
			}
			sent.add(chunk)
		}
	}()
	buf := make([]byte, 1<<16)
	var readErr error
	for received.n < total {
		n, err := conn.Read(buf)
		received.add(buf[:n])
		if err != nil {
			readErr = err
			break
		}
	}
	if received.n < total {
		fail("read after %d of %d bytes: %v", received.n, total, readErr)
	}
	wg.Wait()
	if werr != nil {
		fail("write: %v", werr)
	}
	if closeBy == "us" {
		if readErr != nil {
			fail("the peer closed first (%v)", readErr)
		}
		if err := conn.CloseWrite(); err != nil { // close_notify
			fail("close_notify: %v", err)
		}
	}
	// Either way, the stream must end now with the peer's close_notify (which may have
	// arrived together with the last data).
	if readErr == nil {
		n, err := conn.Read(buf)
		if n != 0 || !errors.Is(err, io.EOF) {
			fail("expected the peer's close_notify, got %d bytes, %v", n, err)
		}
	} else if !errors.Is(readErr, io.EOF) {
		fail("read: %v", readErr)
	}
	conn.Close() // answers with our close_notify when the peer closed first
	fmt.Printf("RESULT sent=%d sent_sha256=%s received=%d received_sha256=%s echo_ok=%t closed_by=%s\n",
		sent.n, sent.sum(), received.n, received.sum(), sent.sum() == received.sum(), closeBy)
}

func server(conn *tls.Conn, closeAfter int64) {
	received := newCounter()
	buf := make([]byte, 1<<16)
	closedFirst := "peer"
	for {
		if closeAfter >= 0 && received.n >= closeAfter {
			closedFirst = "us"
			if err := conn.CloseWrite(); err != nil {
				fail("close_notify: %v", err)
			}
			n, err := conn.Read(buf)
			if n != 0 || !errors.Is(err, io.EOF) {
				fail("expected the peer's close_notify, got %d bytes, %v", n, err)
			}
			break
		}
		n, err := conn.Read(buf)
		if n > 0 {
			received.add(buf[:n])
			if _, werr := conn.Write(buf[:n]); werr != nil {
				fail("write: %v", werr)
			}
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			fail("read: %v", err)
		}
	}
	conn.Close()
	fmt.Printf("RESULT received=%d received_sha256=%s closed_first=%s\n", received.n, received.sum(), closedFirst)
}
