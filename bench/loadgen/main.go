// Command loadgen is the handshake load client of bench/bench.py's `workers` row: it keeps N
// connections busy, each in a loop of TCP connect, full TLS 1.2 handshake, close_notify and close,
// for a fixed time, and reports handshakes/s and the CPU time it used itself, so that the report can
// say what share of the machine the load took from the server it measures.
//
// Every handshake is a full one: no session cache and no tickets (SessionTicketsDisabled), TLS 1.2
// only, one ECDHE suite, x25519. Without -cafile the server's chain is not verified (the
// ServerKeyExchange signature still is, by crypto/tls): the client does the least work a real
// handshake allows.
//
// Output: the line "counting" when the measured window opens (after -warmup), then one line of JSON
// when it closes. Only the standard library is used; bench.py builds it with `go build` at run time.
package main

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

var suites = map[string]uint16{
	"ECDHE-RSA-AES256-GCM-SHA384":   tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	"ECDHE-RSA-AES128-GCM-SHA256":   tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	"ECDHE-RSA-CHACHA20-POLY1305":   tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
	"ECDHE-ECDSA-AES256-GCM-SHA384": tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	"ECDHE-ECDSA-AES128-GCM-SHA256": tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	"ECDHE-ECDSA-CHACHA20-POLY1305": tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
}

type result struct {
	Handshakes     int64   `json:"handshakes"`
	Errors         int64   `json:"errors"`
	FirstError     string  `json:"first_error,omitempty"`
	Seconds        float64 `json:"seconds"`
	HandshakesPerS float64 `json:"handshakes_per_s"`
	CPUSeconds     float64 `json:"cpu_seconds"`
	UserSeconds    float64 `json:"user_seconds"`
	SystemSeconds  float64 `json:"system_seconds"`
	CPUPerHsMs     float64 `json:"cpu_ms_per_handshake"`
	Connections    int     `json:"connections"`
	GoMaxProcs     int     `json:"gomaxprocs"`
	Version        string  `json:"version"`
	CipherSuite    string  `json:"cipher_suite"`
	Resumed        bool    `json:"resumed"`
}

// cpuSeconds is the user and the system CPU time of this process so far.
func cpuSeconds() (float64, float64) {
	var usage syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &usage); err != nil {
		return 0, 0
	}
	seconds := func(tv syscall.Timeval) float64 { return float64(tv.Sec) + float64(tv.Usec)/1e6 }
	return seconds(usage.Utime), seconds(usage.Stime)
}

func main() {
	addr := flag.String("addr", "127.0.0.1:4433", "server address")
	conns := flag.Int("c", 32, "concurrent connections")
	duration := flag.Duration("d", 3*time.Second, "measured time")
	warmup := flag.Duration("warmup", 500*time.Millisecond, "time before the measured window, not counted")
	cafile := flag.String("cafile", "", "verify the server's chain against this PEM CA (default: not verified)")
	serverName := flag.String("servername", "localhost", "SNI and, with -cafile, the name verified")
	suiteName := flag.String("suite", "ECDHE-RSA-AES256-GCM-SHA384", "the one cipher suite offered (OpenSSL name)")
	flag.Parse()

	suite, ok := suites[*suiteName]
	if !ok {
		fmt.Fprintf(os.Stderr, "loadgen: unknown suite %s\n", *suiteName)
		os.Exit(2)
	}
	config := &tls.Config{
		MinVersion:             tls.VersionTLS12,
		MaxVersion:             tls.VersionTLS12,
		CipherSuites:           []uint16{suite},
		CurvePreferences:       []tls.CurveID{tls.X25519},
		SessionTicketsDisabled: true,
		ServerName:             *serverName,
		InsecureSkipVerify:     *cafile == "",
	}
	if *cafile != "" {
		pem, err := os.ReadFile(*cafile)
		if err != nil {
			fmt.Fprintf(os.Stderr, "loadgen: %v\n", err)
			os.Exit(2)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			fmt.Fprintf(os.Stderr, "loadgen: no certificate in %s\n", *cafile)
			os.Exit(2)
		}
		config.RootCAs = pool
	}

	var counting, stopping atomic.Bool
	var handshakes, errors atomic.Int64
	var firstError atomic.Value
	var state atomic.Value // a tls.ConnectionState seen in the window
	var wg sync.WaitGroup
	for i := 0; i < *conns; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stopping.Load() {
				conn, err := net.DialTimeout("tcp", *addr, 10*time.Second)
				if err == nil {
					client := tls.Client(conn, config)
					_ = client.SetDeadline(time.Now().Add(30 * time.Second))
					err = client.Handshake()
					if err == nil && counting.Load() && !stopping.Load() {
						handshakes.Add(1)
						if state.Load() == nil {
							state.Store(client.ConnectionState())
						}
					}
					_ = client.Close() // close_notify, then the TCP close
				}
				if err != nil && counting.Load() && !stopping.Load() {
					errors.Add(1)
					firstError.CompareAndSwap(nil, err.Error())
				}
			}
		}()
	}
	time.Sleep(*warmup)
	user0, system0 := cpuSeconds()
	t0 := time.Now()
	counting.Store(true)
	fmt.Println("counting")
	time.Sleep(*duration)
	stopping.Store(true)
	elapsed := time.Since(t0).Seconds()
	user1, system1 := cpuSeconds()
	user, system := user1-user0, system1-system0
	cpu := user + system
	n := handshakes.Load()
	out := result{
		Handshakes:     n,
		Errors:         errors.Load(),
		Seconds:        elapsed,
		HandshakesPerS: float64(n) / elapsed,
		CPUSeconds:     cpu,
		UserSeconds:    user,
		SystemSeconds:  system,
		Connections:    *conns,
		GoMaxProcs:     runtime.GOMAXPROCS(0),
	}
	if n > 0 {
		out.CPUPerHsMs = cpu / float64(n) * 1e3
	}
	if e, ok := firstError.Load().(string); ok {
		out.FirstError = e
	}
	if s, ok := state.Load().(tls.ConnectionState); ok {
		out.Version = map[uint16]string{tls.VersionTLS12: "TLSv1.2", tls.VersionTLS13: "TLSv1.3"}[s.Version]
		out.CipherSuite = tls.CipherSuiteName(s.CipherSuite)
		out.Resumed = s.DidResume
	}
	line, _ := json.Marshal(out)
	fmt.Println(string(line))
	wg.Wait()
}
