package main

import (
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/msnbridge/msnbridge/msn/wire"
)

// FaultEvent is something a fault knob did, or a call the end-to-end tests count, as listed by
// GET /v1/faults.
type FaultEvent struct {
	// Index is the event's position in the log; the next cursor is Index+1.
	Index int `json:"index"`
	// Kind names the event:
	//   sb-msg           a client MSG (ack A, N or D) passed an SB front connection
	//   sb-held          a client MSG was held by /v1/sb/hold (never forwarded)
	//   sb-dropped       /v1/sb/drop closed an SB connection (Detail: MSGs discarded)
	//   ack-swallowed    an ACK or NAK to the client was swallowed (/v1/sb/swallow-ack)
	//   call-delayed     a CAL was held by /v1/sb/call-delay (Detail: the callee)
	//   call-forwarded   the held CAL went to the server
	//   ns-dropped       /v1/ns/drop closed an NS connection
	//   ring-on-login    the CHG answer of a login was held and the contact rings (Detail: contact)
	//   ring-sent        the ringing contact's message was delivered
	//   ring-failed      it was not (Detail: why)
	//   login-released   the held login answers went to the client
	//   rsi-GetMessage   an RSI GetMessage was answered (Detail: message id, Status: HTTP status)
	//   rsi-DeleteMessages  an RSI DeleteMessages was answered (one event per message id)
	//   ns-login         the NS accepted a login (USR … OK went to the client)
	//   server-down      /v1/down (Detail: "close" — connects accepted and closed — or "refuse")
	//   server-up        /v1/up
	Kind string `json:"kind"`
	// Passport is the account the event concerns ("" for RSI calls).
	Passport string `json:"passport,omitempty"`
	// Conn numbers the front connection (SB events), so that tests see a fresh switchboard.
	Conn uint64 `json:"conn,omitempty"`
	// TrID is the transaction id of the command concerned.
	TrID uint32 `json:"trid,omitempty"`
	// Detail is event-specific (see Kind).
	Detail string `json:"detail,omitempty"`
	// Status is the HTTP status of an RSI answer.
	Status int `json:"status,omitempty"`
	// At is when it happened.
	At time.Time `json:"at"`
}

// maxFaultEvents bounds the fault log.
const maxFaultEvents = 20000

// ringSpec is an armed /v1/ns/ring-on-login.
type ringSpec struct {
	from, text string
	hold       time.Duration
	after      uint64 // only connections made after arming (numbered above this) trigger it
}

// faults holds the knobs of the NS and SB fronts and the log of what they did. Knobs name the
// account whose connections they affect.
type faults struct {
	log zerolog.Logger
	// send makes a scripted contact send a text message (set by the control API).
	send func(from, to, text string) error

	mu          sync.Mutex
	conns       map[*frontConn]struct{}
	seq         uint64
	holdSB      map[string]bool
	swallowACK  map[string]int
	callDelay   map[string]time.Duration
	ringOnLogin map[string]ringSpec
	events      []FaultEvent
	changed     chan struct{}
}

func newFaults(log zerolog.Logger) *faults {
	return &faults{
		log:         log,
		conns:       map[*frontConn]struct{}{},
		holdSB:      map[string]bool{},
		swallowACK:  map[string]int{},
		callDelay:   map[string]time.Duration{},
		ringOnLogin: map[string]ringSpec{},
		changed:     make(chan struct{}),
	}
}

// record appends an event to the log.
func (f *faults) record(ev FaultEvent) {
	ev.At = time.Now()
	f.mu.Lock()
	defer f.mu.Unlock()
	f.recordLocked(ev)
}

func (f *faults) recordLocked(ev FaultEvent) {
	if ev.At.IsZero() {
		ev.At = time.Now()
	}
	if len(f.events) >= maxFaultEvents {
		return
	}
	ev.Index = len(f.events)
	f.events = append(f.events, ev)
	close(f.changed)
	f.changed = make(chan struct{})
}

// since returns the events from index on, waiting up to wait for at least one.
func (f *faults) since(done <-chan struct{}, index int, wait time.Duration) ([]FaultEvent, int) {
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	for {
		f.mu.Lock()
		n, ch := len(f.events), f.changed
		var out []FaultEvent
		if index < n {
			out = append(out, f.events[max(index, 0):]...)
		}
		f.mu.Unlock()
		if len(out) > 0 || wait <= 0 {
			return out, n
		}
		select {
		case <-ch:
		case <-deadline.C:
			return nil, n
		case <-done:
			return nil, n
		}
	}
}

// drop closes the front connections of service ("NS" or "SB") signed in as passport, and
// returns how many it closed and how many held MSGs went with them.
func (f *faults) drop(service, passport string) (dropped, discarded int) {
	f.mu.Lock()
	var victims []*frontConn
	for c := range f.conns {
		if c.service == service && c.account() == passport {
			victims = append(victims, c)
		}
	}
	if service == "SB" {
		delete(f.holdSB, passport)
	}
	f.mu.Unlock()
	for _, c := range victims {
		c.mu.Lock()
		held := len(c.held)
		c.held = nil
		c.mu.Unlock()
		c.client.Close()
		c.up.Close()
		kind := "ns-dropped"
		if service == "SB" {
			kind = "sb-dropped"
		}
		f.record(FaultEvent{Kind: kind, Passport: passport, Conn: c.id, Detail: strconv.Itoa(held)})
		discarded += held
	}
	return len(victims), discarded
}

// nsVersions lists the protocol versions of the live NS front connections of passport.
func (f *faults) nsVersions(passport string) []int {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := []int{}
	for c := range f.conns {
		if c.service == "NS" && c.account() == passport {
			c.mu.Lock()
			out = append(out, c.version)
			c.mu.Unlock()
		}
	}
	return out
}

// frontConn is one client connection through an MSNP front, with its upstream connection.
type frontConn struct {
	id      uint64
	service string
	client  net.Conn
	up      net.Conn
	cmu     sync.Mutex // serialises writes to client
	umu     sync.Mutex // serialises writes to up

	mu       sync.Mutex
	passport string
	version  int
	session  string          // SB session id, once seen
	held     [][]byte        // SB: client MSGs held, never forwarded
	delayed  map[uint32]bool // SB: CALs held; their server answer is swallowed once answered here
	synth    []uint32        // SB: held CALs waiting for the session id to be answered RINGING
	holdOut  bool            // NS: server commands are held (ring-on-login)
	outBuf   [][]byte        // NS: the held server commands
	answered map[uint32]bool // SB: held CALs already answered RINGING by the front
}

func (c *frontConn) account() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.passport
}

func (c *frontConn) toClient(b []byte) error {
	c.cmu.Lock()
	defer c.cmu.Unlock()
	_ = c.client.SetWriteDeadline(time.Now().Add(10 * time.Second))
	_, err := c.client.Write(b)
	return err
}

func (c *frontConn) toServer(b []byte) error {
	c.umu.Lock()
	defer c.umu.Unlock()
	_ = c.up.SetWriteDeadline(time.Now().Add(10 * time.Second))
	_, err := c.up.Write(b)
	return err
}

// msnpFront forwards every connection accepted on ln to upstream, through the gate, reading
// the MSNP commands of both directions so that the fault knobs can act on them.
type msnpFront struct {
	service  string // "NS" or "SB"
	ln       net.Listener
	upstream string
	gate     *gate
	faults   *faults
	log      zerolog.Logger
	wg       sync.WaitGroup
}

func (p *msnpFront) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				p.log.Warn().Err(err).Msg("accept failed")
			}
			return
		}
		if p.gate.down() {
			c.Close()
			continue
		}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			p.pipe(c)
		}()
	}
}

// frontLimits bound what the fronts read: generous, the endpoints enforce the real limits.
var frontLimits = wire.Limits{MaxLine: 64 << 10, MaxPayload: 4 << 20}

func (p *msnpFront) pipe(client net.Conn) {
	defer client.Close()
	up, err := net.DialTimeout("tcp", p.upstream, 5*time.Second)
	if err != nil {
		p.log.Warn().Err(err).Msg("upstream dial failed")
		return
	}
	defer up.Close()
	f := p.faults
	f.mu.Lock()
	f.seq++
	c := &frontConn{id: f.seq, service: p.service, client: client, up: up, delayed: map[uint32]bool{}, answered: map[uint32]bool{}}
	f.conns[c] = struct{}{}
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		delete(f.conns, c)
		f.mu.Unlock()
	}()
	p.gate.track(client, true)
	p.gate.track(up, true)
	defer p.gate.track(client, false)
	defer p.gate.track(up, false)
	done := make(chan struct{}, 2)
	go func() {
		p.clientToServer(c)
		up.Close()
		done <- struct{}{}
	}()
	go func() {
		p.serverToClient(c)
		client.Close()
		done <- struct{}{}
	}()
	<-done
	<-done
}

// splitPassport returns the lower-case passport of "user@host[;{guid}]".
func splitPassport(s string) string {
	p, _, _ := strings.Cut(s, ";")
	return strings.ToLower(strings.TrimSpace(p))
}

func (p *msnpFront) clientToServer(c *frontConn) {
	r := wire.NewReader(c.client, wire.FromClient, frontLimits)
	f := p.faults
	for {
		cmd, err := r.ReadCommand()
		if err != nil {
			return
		}
		switch {
		case cmd.Name == "USR" && p.service == "NS" && cmd.Arg(1) == "I":
			c.mu.Lock()
			c.passport = splitPassport(cmd.Arg(2))
			c.mu.Unlock()
		case (cmd.Name == "USR" || cmd.Name == "ANS") && p.service == "SB":
			c.mu.Lock()
			c.passport = splitPassport(cmd.Arg(0))
			if cmd.Name == "ANS" {
				c.session = cmd.Arg(2)
			}
			c.mu.Unlock()
		case cmd.Name == "MSG" && p.service == "SB":
			who := c.account()
			f.mu.Lock()
			hold := f.holdSB[who]
			if hold {
				c.mu.Lock()
				c.held = append(c.held, cmd.Encode())
				c.mu.Unlock()
				f.recordLocked(FaultEvent{Kind: "sb-held", Passport: who, Conn: c.id, TrID: cmd.TrID, Detail: contentType(cmd.Payload)})
			} else if cmd.Arg(0) != "U" {
				f.recordLocked(FaultEvent{Kind: "sb-msg", Passport: who, Conn: c.id, TrID: cmd.TrID, Detail: contentType(cmd.Payload)})
			}
			f.mu.Unlock()
			if hold {
				continue
			}
		case cmd.Name == "CAL" && p.service == "SB":
			callee := splitPassport(cmd.Arg(0))
			f.mu.Lock()
			d := f.callDelay[callee]
			f.mu.Unlock()
			if d > 0 {
				p.delayCall(c, cmd, callee, d)
				continue
			}
		}
		if err := c.toServer(cmd.Encode()); err != nil {
			return
		}
	}
}

// delayCall holds a CAL for d: the client is told RINGING at once (as soon as the session id is
// known), the server gets the CAL after d and its answer is swallowed, so that the callee
// joins d later, like a person slow to answer.
func (p *msnpFront) delayCall(c *frontConn, cmd *wire.Command, callee string, d time.Duration) {
	who := c.account()
	c.mu.Lock()
	c.delayed[cmd.TrID] = true
	sess := c.session
	if sess == "" {
		c.synth = append(c.synth, cmd.TrID)
	} else {
		c.answered[cmd.TrID] = true
	}
	c.mu.Unlock()
	p.faults.record(FaultEvent{Kind: "call-delayed", Passport: who, Conn: c.id, TrID: cmd.TrID, Detail: callee})
	if sess != "" {
		_ = c.toClient(wire.New("CAL", cmd.TrID, "RINGING", sess).Encode())
	}
	raw := cmd.Encode()
	time.AfterFunc(d, func() {
		if err := c.toServer(raw); err == nil {
			p.faults.record(FaultEvent{Kind: "call-forwarded", Passport: who, Conn: c.id, TrID: cmd.TrID, Detail: callee})
		}
	})
}

func (p *msnpFront) serverToClient(c *frontConn) {
	r := wire.NewReader(c.up, wire.FromServer, frontLimits)
	f := p.faults
	for {
		cmd, err := r.ReadCommand()
		if err != nil {
			return
		}
		raw := cmd.Encode()
		who := c.account()
		if p.service == "NS" {
			if cmd.Name == "VER" && cmd.HasTrID {
				c.mu.Lock()
				for _, a := range cmd.Args {
					if v, ok := strings.CutPrefix(a, "MSNP"); ok {
						c.version, _ = strconv.Atoi(v)
						break
					}
				}
				c.mu.Unlock()
			}
			if cmd.Name == "CHG" && cmd.HasTrID && cmd.TrID != 0 {
				f.mu.Lock()
				spec, armed := f.ringOnLogin[who]
				armed = armed && c.id > spec.after
				if armed {
					delete(f.ringOnLogin, who)
				}
				f.mu.Unlock()
				if armed {
					p.ringDuringLogin(c, who, spec, raw)
					continue
				}
			}
			if cmd.Name == "USR" && cmd.HasTrID && cmd.Arg(0) == "OK" {
				f.record(FaultEvent{Kind: "ns-login", Passport: who, Conn: c.id})
			}
			c.mu.Lock()
			if c.holdOut && cmd.Name != "RNG" {
				c.outBuf = append(c.outBuf, raw)
				c.mu.Unlock()
				continue
			}
			c.mu.Unlock()
		} else {
			switch cmd.Name {
			case "ACK", "NAK":
				f.mu.Lock()
				swallow := f.swallowACK[who] > 0
				if swallow {
					f.swallowACK[who]--
					f.recordLocked(FaultEvent{Kind: "ack-swallowed", Passport: who, Conn: c.id, TrID: cmd.TrID, Detail: cmd.Name})
				}
				f.mu.Unlock()
				if swallow {
					continue
				}
			case "CAL":
				if p.calAnswer(c, cmd) {
					continue
				}
			}
		}
		if err := c.toClient(raw); err != nil {
			return
		}
	}
}

// calAnswer handles the server's answer to a CAL on an SB connection; it reports whether the
// answer is swallowed (a held CAL the front already answered).
func (p *msnpFront) calAnswer(c *frontConn, cmd *wire.Command) bool {
	c.mu.Lock()
	if c.delayed[cmd.TrID] {
		delete(c.delayed, cmd.TrID)
		if c.answered[cmd.TrID] {
			delete(c.answered, cmd.TrID)
			c.mu.Unlock()
			return true
		}
		// Never answered by the front (no session id was known): this is the answer.
		for i, t := range c.synth {
			if t == cmd.TrID {
				c.synth = append(c.synth[:i], c.synth[i+1:]...)
				break
			}
		}
	}
	if cmd.Arg(0) == "RINGING" && c.session == "" {
		c.session = cmd.Arg(1)
	}
	sess := c.session
	var synth []uint32
	if sess != "" {
		synth, c.synth = c.synth, nil
		for _, t := range synth {
			c.answered[t] = true
		}
	}
	c.mu.Unlock()
	if len(synth) == 0 {
		return false
	}
	if err := c.toClient(cmd.Encode()); err != nil {
		return true
	}
	for _, t := range synth {
		_ = c.toClient(wire.New("CAL", t, "RINGING", sess).Encode())
	}
	return true
}

// ringDuringLogin holds the answer to the login's CHG (and everything after it but RNG) for
// spec.hold, while the contact rings the account: the RNG reaches the client before its login
// is complete, as when a contact writes the moment the user comes online.
func (p *msnpFront) ringDuringLogin(c *frontConn, who string, spec ringSpec, chg []byte) {
	c.mu.Lock()
	c.holdOut = true
	c.outBuf = append(c.outBuf, chg)
	c.mu.Unlock()
	f := p.faults
	f.record(FaultEvent{Kind: "ring-on-login", Passport: who, Conn: c.id, Detail: spec.from})
	go func() {
		if f.send == nil {
			f.record(FaultEvent{Kind: "ring-failed", Passport: who, Detail: "no sender"})
			return
		}
		if err := f.send(spec.from, who, spec.text); err != nil {
			f.record(FaultEvent{Kind: "ring-failed", Passport: who, Detail: err.Error()})
			return
		}
		f.record(FaultEvent{Kind: "ring-sent", Passport: who, Detail: spec.from})
	}()
	time.AfterFunc(spec.hold, func() {
		// Lock order: faults.mu before frontConn.mu; the event is recorded after the flush.
		c.mu.Lock()
		buf := c.outBuf
		c.outBuf = nil
		c.holdOut = false
		for _, b := range buf {
			if err := c.toClient(b); err != nil {
				break
			}
		}
		c.mu.Unlock()
		f.record(FaultEvent{Kind: "login-released", Passport: who, Conn: c.id, Detail: strconv.Itoa(len(buf))})
	})
}

func (p *msnpFront) close() {
	p.ln.Close()
	p.gate.restart(0)
	p.wg.Wait()
}

// contentType returns the Content-Type of an MSG payload.
func contentType(payload []byte) string {
	head, _, _ := bytes.Cut(payload, []byte("\r\n\r\n"))
	for _, line := range strings.Split(string(head), "\r\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.EqualFold(strings.TrimSpace(k), "Content-Type") {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// rsiMessageID finds the message ids in an RSI request.
var rsiMessageID = regexp.MustCompile(`<(?:\w+:)?messageId>\s*([^<\s]+)\s*</(?:\w+:)?messageId>`)

// statusWriter remembers the status of an answer.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

// observeRSI serves an RSI request through next and logs, once it was answered, which
// messages it fetched or deleted.
func (f *faults) observeRSI(w http.ResponseWriter, r *http.Request, next http.Handler) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxSOAPBody+1))
	r.Body.Close()
	if err != nil || len(body) > maxSOAPBody {
		http.Error(w, "bad request body", http.StatusBadRequest)
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
	next.ServeHTTP(sw, r)
	action := ""
	soapAction := strings.Trim(r.Header.Get("SOAPAction"), `"`)
	switch {
	case strings.HasSuffix(soapAction, "/GetMessage") || bytes.Contains(body, []byte("<GetMessage ")):
		action = "GetMessage"
	case strings.HasSuffix(soapAction, "/DeleteMessages") || bytes.Contains(body, []byte("<DeleteMessages ")):
		action = "DeleteMessages"
	default:
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, m := range rsiMessageID.FindAllSubmatch(body, -1) {
		f.recordLocked(FaultEvent{Kind: "rsi-" + action, Detail: strings.ToUpper(string(m[1])), Status: sw.status})
	}
}

// maxSOAPBody bounds an RSI request read by the front.
const maxSOAPBody = 1 << 20
