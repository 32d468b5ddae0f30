// Command msn-fakeserver runs the fake MSN server of package msn/msntest as a process, for the
// bridge's end-to-end tests and `make demo`.
//
// It serves the notification server (MSNP) and the HTTP services (Passport, SSO, ABCH, OIM) on
// loopback addresses, with accounts from a JSON file (-accounts) or a built-in demo set (-demo),
// and a loopback-only HTTP control API that scripts the contacts:
//
//	POST /v1/message  {"from","to","text","format":{"font","color":"RRGGBB","bold",…}}  a contact says something
//	POST /v1/typing   {"from","to"}                    a contact types
//	POST /v1/nudge    {"from","to"}                    a contact nudges
//	POST /v1/presence {"who","status","psm","name"}    a contact changes status, personal message or name
//	POST /v1/join     {"who","to","with"}              who joins the conversation of with and to
//	POST /v1/leave    {"who","to"}                     who leaves its conversation with to
//	POST /v1/oim      {"from","to","text"}             queue an offline message
//	POST /v1/restart  {"down_ms"}                      drop every connection and refuse new ones for a while
//	POST /v1/down     {"refuse"}                       drop every connection and refuse new ones until /v1/up:
//	                                                   accepted and closed at once (HTTP: 503), or with
//	                                                   refuse the NS, SB and HTTP listeners are shut
//	                                                   (connects refused, as when the process is gone)
//	POST /v1/up       {}                               accept connections again
//	GET  /v1/received?contact=&since=&wait_ms=         what a scripted contact received (long poll);
//	                                                   text items say in how many switchboard
//	                                                   messages they came ("chunks", "message_id")
//	GET  /v1/logins?passport=                          an account's login count, status and the
//	                                                   protocol versions of its NS connections
//	GET  /v1/oims?to=                                  the offline messages stored for an account
//	POST /v1/file/send   {"from","to","name","data"|"size"}  a contact sends a file (P2P file
//	                                                   transfer): data in base64, or size
//	                                                   pseudo-random bytes (at most 100 MiB);
//	                                                   answers {"size","sha256"} once the client
//	                                                   acknowledged it, 409 when it declined
//	POST /v1/file/policy {"who","policy"}              a contact accepts ("accept") or declines
//	                                                   ("decline", the default) offered files, or
//	                                                   holds them unanswered ("hold") until the
//	                                                   next policy, which then answers them
//	GET  /v1/files?contact=                            the files a contact accepted: name, size,
//	                                                   received, sha256, error
//	POST /v1/picture {"who","data"}                    a contact's display picture (base64): its
//	                                                   presence carries the MSNObject at once and it
//	                                                   serves the picture over P2P; answers
//	                                                   {"msnobj","sha256"}
//	POST /v1/picture/fetch {"who","from"}              the contact who fetches the display picture
//	                                                   the signed-in account from announced (P2P);
//	                                                   answers {"data" (base64),"size","sha256"}
//
// Fault knobs, for the end-to-end fault matrix (each names the account whose connections it
// affects; what they did is logged, see GET /v1/faults):
//
//	POST /v1/sb/hold        {"who"}                     hold every MSG who sends on a switchboard:
//	                                                    the server never gets it (in flight)
//	POST /v1/sb/drop        {"who"}                     close who's switchboard connections without
//	                                                    a word, discarding held MSGs; ends a hold
//	POST /v1/sb/swallow-ack {"who","count"}             the next count (default 1) ACK/NAK to who vanish
//	POST /v1/sb/call-delay  {"who","delay_ms"}          who answers calls (CAL) delay_ms late: the
//	                                                    caller hears RINGING at once, who joins later
//	POST /v1/ns/drop        {"who"}                     close who's NS connections; switchboards stay
//	POST /v1/ns/ring-on-login {"who","from","text","hold_ms"}  one shot: at who's next login, the
//	                                                    answer to its first CHG (and all after it but
//	                                                    RNG) is held for hold_ms (default 3000) while
//	                                                    the scripted contact from sends text (rings who)
//	GET  /v1/faults?since=&wait_ms=                     the fault log (long poll): sb-msg, sb-held,
//	                                                    sb-dropped, ack-swallowed, call-delayed,
//	                                                    call-forwarded, ns-dropped, ring-on-login,
//	                                                    ring-sent, ring-failed, login-released,
//	                                                    rsi-GetMessage and rsi-DeleteMessages (one
//	                                                    per message id, once answered)
//
// The NS, SB and HTTP listeners are fronts that forward to the in-process server, so that the
// addresses stay fixed across a simulated restart; the NS and SB fronts read the MSNP commands
// both ways, which is where the fault knobs act.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/msnbridge/msnbridge/msn/msntest"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "msn-fakeserver:", err)
		os.Exit(1)
	}
}

// Ready is written as JSON to -ready-file once every listener is up.
type Ready struct {
	NS      string `json:"ns"`      // host:port of the notification server
	HTTP    string `json:"http"`    // base URL of the HTTP services
	Control string `json:"control"` // base URL of the control API
	SB      string `json:"sb"`      // switchboard host:port (given to clients by the NS)
}

func run() error {
	nsAddr := flag.String("ns", "127.0.0.1:1863", "loopback `address` of the notification server")
	httpAddr := flag.String("http", "127.0.0.1:8081", "loopback `address` of the HTTP services")
	controlAddr := flag.String("control", "127.0.0.1:8082", "loopback `address` of the control API")
	accountsPath := flag.String("accounts", "", "JSON account `file` ({\"accounts\":[{passport,password,name,psm,status,contacts,scripted,echo}]})")
	demo := flag.Bool("demo", false, "serve the built-in demo accounts (demo@example.com / demo-password, with an echo contact)")
	readyFile := flag.String("ready-file", "", "write the listen addresses as JSON to this `file` once ready")
	debug := flag.Bool("debug", false, "log every server event")
	flag.Parse()

	level := zerolog.InfoLevel
	if *debug {
		level = zerolog.DebugLevel
	}
	log := zerolog.New(zerolog.ConsoleWriter{Out: os.Stderr, TimeFormat: time.TimeOnly, NoColor: true}).Level(level).With().Timestamp().Logger()

	var accounts []Account
	switch {
	case *accountsPath != "" && *demo:
		return errors.New("-accounts and -demo exclude each other")
	case *accountsPath != "":
		var err error
		if accounts, err = loadAccounts(*accountsPath); err != nil {
			return err
		}
	case *demo:
		accounts = demoAccounts()
	default:
		return errors.New("give -accounts FILE or -demo")
	}

	for _, a := range []string{*nsAddr, *httpAddr, *controlAddr} {
		if err := checkLoopback(a); err != nil {
			return err
		}
	}

	// The switchboard front listens before the server starts: the server advertises it in XFR
	// and RNG, so that every switchboard connection passes the fault knobs.
	g := newGate()
	sbLn, err := listenSwitch(sbListenAddr(*nsAddr))
	if err != nil {
		return fmt.Errorf("SB listener: %w", err)
	}
	g.addListener(sbLn)
	srvLog := log.With().Str("component", "msntest").Logger()
	srv, err := msntest.New(msntest.Options{Logger: &srvLog, AdvertiseSB: sbLn.Addr().String()})
	if err != nil {
		return err
	}
	if err := srv.Start(); err != nil {
		return fmt.Errorf("starting the fake server: %w", err)
	}
	defer closeWithin(srv, 5*time.Second, log)
	if err := applyAccounts(srv, accounts); err != nil {
		return err
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	flt := newFaults(log.With().Str("component", "faults").Logger())
	nsLn, err := listenSwitch(*nsAddr)
	if err != nil {
		return fmt.Errorf("NS listener: %w", err)
	}
	g.addListener(nsLn)
	nsProxy := &msnpFront{service: "NS", ln: nsLn, upstream: srv.NSAddr(), gate: g, faults: flt, log: log.With().Str("component", "ns-front").Logger()}
	go nsProxy.serve()
	defer nsProxy.close()
	sbProxy := &msnpFront{service: "SB", ln: sbLn, upstream: srv.SBListenAddr(), gate: g, faults: flt, log: log.With().Str("component", "sb-front").Logger()}
	go sbProxy.serve()
	defer sbProxy.close()

	front, err := httpFront(srv.HTTPURL(), g, flt, log)
	if err != nil {
		return err
	}
	httpLn, err := listenSwitch(*httpAddr)
	if err != nil {
		return fmt.Errorf("HTTP listener: %w", err)
	}
	g.addListener(httpLn)
	httpSrv := &http.Server{Handler: front, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = httpSrv.Serve(httpLn) }()
	defer httpSrv.Close()

	ctl := newControl(srv, g, flt, log.With().Str("component", "control").Logger())
	for _, a := range accounts {
		ctl.passports = append(ctl.passports, a.Passport)
		if a.Scripted {
			rec := newRecorder(srv, srv.Contact(a.Passport), a.Echo, log.With().Str("contact", a.Passport).Logger())
			ctl.recorders[a.Passport] = rec
			go rec.run(ctx)
		}
	}
	ctlLn, err := net.Listen("tcp", *controlAddr)
	if err != nil {
		return fmt.Errorf("control listener: %w", err)
	}
	ctlSrv := &http.Server{Handler: ctl.handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = ctlSrv.Serve(ctlLn) }()
	defer ctlSrv.Close()

	ready := Ready{
		NS:      nsLn.Addr().String(),
		HTTP:    "http://" + httpLn.Addr().String(),
		Control: "http://" + ctlLn.Addr().String(),
		SB:      srv.SBAddr(),
	}
	if *readyFile != "" {
		if err := writeReady(*readyFile, ready); err != nil {
			return err
		}
	}
	log.Info().Str("ns", ready.NS).Str("http", ready.HTTP).Str("control", ready.Control).Str("sb", ready.SB).
		Int("accounts", len(accounts)).Msg("fake MSN server ready")
	printAccounts(accounts)

	<-ctx.Done()
	log.Info().Msg("shutting down")
	return nil
}

// sbListenAddr is the switchboard front's address: a free port on the NS listener's host.
func sbListenAddr(nsAddr string) string {
	host, _, err := net.SplitHostPort(nsAddr)
	if err != nil || host == "" {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, "0")
}

// closeWithin closes the server but gives up waiting after d, so that the process always exits.
func closeWithin(srv *msntest.Server, d time.Duration, log zerolog.Logger) {
	done := make(chan struct{})
	go func() {
		srv.Close()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(d):
		log.Warn().Dur("waited", d).Msg("fake server did not close in time; exiting anyway")
	}
}

// checkLoopback refuses listen addresses off the loopback interface: this server has no
// authentication at all.
func checkLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("listen address %q: %w", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("listen address %q is not a loopback address", addr)
	}
	return nil
}

// writeReady writes the ready file atomically.
func writeReady(path string, r Ready) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".ready-*")
	if err != nil {
		return err
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// printAccounts lists the client accounts (the ones a person logs in with) on stdout.
func printAccounts(accounts []Account) {
	sorted := append([]Account(nil), accounts...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Passport < sorted[j].Passport })
	for _, a := range sorted {
		switch {
		case !a.Scripted:
			fmt.Printf("MSN account: %s (contacts: %d)\n", a.Passport, len(a.Contacts))
		case a.Echo:
			fmt.Printf("  echo contact: %s\n", a.Passport)
		default:
			fmt.Printf("  scripted contact: %s (%s)\n", a.Passport, a.Status)
		}
	}
}
