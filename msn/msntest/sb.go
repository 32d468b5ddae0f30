package msntest

import (
	"net"
	"sort"
	"strings"
	"time"

	"github.com/msnbridge/msnbridge/msn/wire"
)

// sbMaxPayload is the largest SB MSG payload; anything longer closes the connection.
const sbMaxPayload = 1664

type sbSession struct {
	id       string
	parts    []*sbPart
	joined   chan struct{}
	joinOnce bool
	idle     *time.Timer
}

type sbPart struct {
	acct  *Account
	guid  string // lower-case machine GUID or ""
	ident string // identity as the client sent it
	conn  *sbConn
	virt  *Contact
	caps  string
}

type sbConn struct {
	s    *Server
	id   uint64
	conn net.Conn
	out  *outbox
	ver  int
	part *sbPart
	sess *sbSession
	gone bool
}

func (c *sbConn) send(cmd *wire.Command) {
	if c.gone {
		return
	}
	c.out.push(cmd)
}

func (s *Server) serveSB(conn net.Conn) {
	var c *sbConn
	if !s.admit(conn, func(id uint64) {
		c = &sbConn{s: s, id: id, conn: conn, out: s.newOutbox(conn)}
		s.sbConns[c] = struct{}{}
	}) {
		return
	}
	defer func() {
		s.mu.Lock()
		s.dropSB(c, false)
		s.mu.Unlock()
	}()
	_ = conn.SetReadDeadline(time.Now().Add(s.opts.SBAuthTimeout))
	r := wire.NewReader(conn, wire.FromClient, wire.Limits{MaxLine: s.opts.MaxLine, MaxPayload: sbMaxPayload})
	s.readCommands(r, "SB", func(cmd *wire.Command) bool {
		s.mu.Lock()
		ev := CommandEvent{Service: "SB", Version: c.ver, Command: cmd}
		if c.part != nil {
			ev.Passport = c.part.acct.passport
		}
		s.mu.Unlock()
		s.observe(ev)
		s.mu.Lock()
		closeIt := s.safeHandleSB(c, cmd)
		s.mu.Unlock()
		return closeIt
	})
}

func (s *Server) safeHandleSB(c *sbConn, cmd *wire.Command) (closeIt bool) {
	defer func() {
		if r := recover(); r != nil {
			s.log.Error().Interface("panic", r).Str("cmd", cmd.Name).Msg("SB handler panic")
			closeIt = true
		}
	}()
	return s.handleSB(c, cmd)
}

// dropSB closes a switchboard connection and tells the others it left (mu held).
func (s *Server) dropSB(c *sbConn, idle bool) {
	if c.gone {
		return
	}
	if c.sess != nil && c.part != nil {
		s.leaveSession(c.sess, c.part, idle)
	}
	c.gone = true
	delete(s.sbConns, c)
	c.out.close()
}

// leaveSession removes p from ss and sends BYE to the others (mu held).
func (s *Server) leaveSession(ss *sbSession, p *sbPart, idle bool) {
	idx := -1
	for i, q := range ss.parts {
		if q == p {
			idx = i
		}
	}
	if idx < 0 {
		return
	}
	ss.parts = append(ss.parts[:idx], ss.parts[idx+1:]...)
	for _, q := range ss.parts {
		if q.conn == nil {
			continue
		}
		id := p.acct.passport
		if q.conn.ver >= 16 && p.guid != "" {
			id += ";{" + p.guid + "}"
		}
		args := []string{id}
		if idle {
			args = append(args, "1")
		}
		q.conn.send(wire.NewNoTrID("BYE", args...))
	}
	hasReal := false
	for _, q := range ss.parts {
		if q.conn != nil {
			hasReal = true
		}
	}
	if !hasReal {
		// Only scripted contacts (or nobody) left: the conversation is over.
		ss.parts = nil
	}
	if len(ss.parts) == 0 {
		if ss.idle != nil {
			ss.idle.Stop()
		}
		delete(s.sessions, ss.id)
	}
}

// newSession creates a switchboard session (mu held).
func (s *Server) newSession() *sbSession {
	ss := &sbSession{id: randHex(31), joined: make(chan struct{})}
	s.sessions[ss.id] = ss
	if s.opts.SBIdleTimeout > 0 {
		ss.idle = time.AfterFunc(s.opts.SBIdleTimeout, func() { s.idleKick(ss) })
	}
	return ss
}

func (s *Server) touch(ss *sbSession) {
	if ss.idle != nil {
		ss.idle.Reset(s.opts.SBIdleTimeout)
	}
}

func (s *Server) idleKick(ss *sbSession) {
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-s.closed:
		return
	default:
	}
	for len(ss.parts) > 0 {
		p := ss.parts[len(ss.parts)-1]
		if p.conn != nil {
			s.dropSB(p.conn, true)
		} else {
			s.leaveSession(ss, p, true)
		}
	}
}

// identities lists how participant p appears to a receiver of version ver.
func identities(p *sbPart, ver int) []string {
	if ver >= 16 && p.guid != "" {
		return []string{p.acct.passport + ";{" + p.guid + "}", p.acct.passport}
	}
	return []string{p.acct.passport}
}

func partCaps(p *sbPart) string {
	if p.caps != "" {
		return p.caps
	}
	return p.acct.caps
}

func rosterArgs(p *sbPart, id string, ver int) []string {
	args := []string{id, escName(p.acct.friendly)}
	if ver >= 12 {
		args = append(args, capsFor(ver, partCaps(p)))
	}
	return args
}

// join adds p to ss and sends JOI lines to the others (mu held).
func (s *Server) join(ss *sbSession, p *sbPart) {
	for _, q := range ss.parts {
		if q.conn == nil {
			continue
		}
		for _, id := range identities(p, q.conn.ver) {
			q.conn.send(wire.NewNoTrID("JOI", rosterArgs(p, id, q.conn.ver)...))
		}
	}
	ss.parts = append(ss.parts, p)
	if len(ss.parts) >= 2 && !ss.joinOnce {
		ss.joinOnce = true
		close(ss.joined)
	}
}

func (s *Server) handleSB(c *sbConn, cmd *wire.Command) bool {
	t := cmd.TrID
	if c.part == nil {
		switch cmd.Name {
		case "USR":
			return s.sbUSR(c, cmd)
		case "ANS":
			return s.sbANS(c, cmd)
		default:
			return true
		}
	}
	switch cmd.Name {
	case "CAL":
		if len(cmd.Args) < 1 {
			return true
		}
		s.sbCAL(c, cmd)
	case "MSG":
		return s.sbMSG(c, cmd)
	case "OUT":
		return true
	case "USR", "ANS":
		c.send(wire.New("207", t))
	}
	return false
}

func (s *Server) takeCookie(token string) (sbCookie, bool) {
	ck, ok := s.sbCookies[token]
	if !ok {
		return ck, false
	}
	delete(s.sbCookies, token)
	if time.Now().After(ck.expires) {
		return ck, false
	}
	return ck, true
}

func (s *Server) authPart(c *sbConn, ident, cookie, session string) (*sbPart, bool) {
	email, guid := splitIdent(ident)
	ck, ok := s.takeCookie(cookie)
	if !ok || ck.passport != email || ck.session != session {
		return nil, false
	}
	if guid != "" && ck.version >= 16 && guid != ck.guid {
		return nil, false
	}
	a := s.accounts[email]
	if a == nil {
		return nil, false
	}
	c.ver = ck.version
	p := &sbPart{acct: a, ident: ident, conn: c}
	if ck.version >= 16 {
		p.guid = guid
		if ep := a.endpoint[ck.guid]; ep != nil && ep.caps != "" {
			p.caps = ep.caps
		}
	}
	return p, true
}

func (s *Server) sbUSR(c *sbConn, cmd *wire.Command) bool {
	if len(cmd.Args) < 2 {
		return true
	}
	p, ok := s.authPart(c, cmd.Args[0], cmd.Args[1], "")
	if !ok {
		c.send(wire.New("911", cmd.TrID))
		return true
	}
	_ = c.conn.SetReadDeadline(time.Time{})
	c.part = p
	c.sess = s.newSession()
	c.sess.parts = append(c.sess.parts, p)
	c.send(wire.New("USR", cmd.TrID, "OK", cmd.Args[0], escName(p.acct.friendly)))
	return false
}

func (s *Server) sbANS(c *sbConn, cmd *wire.Command) bool {
	if len(cmd.Args) < 3 {
		return true
	}
	p, ok := s.authPart(c, cmd.Args[0], cmd.Args[1], cmd.Args[2])
	ss := s.sessions[cmd.Args[2]]
	if !ok || ss == nil {
		c.send(wire.New("911", cmd.TrID))
		return true
	}
	_ = c.conn.SetReadDeadline(time.Time{})
	c.part, c.sess = p, ss
	var ids [][]string
	for _, q := range ss.parts {
		for _, id := range identities(q, c.ver) {
			ids = append(ids, rosterArgs(q, id, c.ver))
		}
	}
	for i, args := range ids {
		c.send(wire.New("IRO", cmd.TrID, append([]string{itoa(i + 1), itoa(len(ids))}, args...)...))
	}
	c.send(wire.New("ANS", cmd.TrID, "OK"))
	s.join(ss, p)
	if c.ver >= 16 {
		c.send(wire.NewNoTrID("JOI", rosterArgs(p, p.acct.passport, c.ver)...))
	}
	return false
}

func (s *Server) sbCAL(c *sbConn, cmd *wire.Command) {
	t := cmd.TrID
	email := normPassport(cmd.Args[0])
	if !strings.Contains(email, "@") {
		c.send(wire.New("208", t))
		return
	}
	ss := c.sess
	if email == c.part.acct.passport {
		// MSNP16+ WLM pulls in its other endpoints: RINGING, a JOI for oneself, RNG to the
		// account's other endpoints.
		c.send(wire.New("CAL", t, "RINGING", ss.id))
		if c.ver >= 16 {
			c.send(wire.NewNoTrID("JOI", rosterArgs(c.part, c.part.acct.passport, c.ver)...))
			for _, o := range s.sessionsOf(c.part.acct) {
				if o.guid == c.part.guid || !o.chgDone {
					continue
				}
				cookie := s.newSBCookie(sbCookie{passport: o.acct.passport, guid: o.guid, version: o.ver, session: ss.id})
				o.send(wire.NewNoTrID("RNG", ss.id, s.SBAddr(), "CKI", cookie, o.acct.passport, escName(o.acct.friendly), "U", "messenger.hotmail.com", "1"))
			}
		}
		return
	}
	for _, q := range ss.parts {
		if q.acct.passport == email {
			c.send(wire.New("215", t))
			return
		}
	}
	callee := s.accounts[email]
	if callee == nil || !callee.visible() {
		c.send(wire.New("217", t))
		return
	}
	if !callee.allows(c.part.acct.passport) {
		c.send(wire.New("216", t))
		return
	}
	c.send(wire.New("CAL", t, "RINGING", ss.id))
	s.ring(ss, callee, c.part.acct)
}

// ring invites callee into ss on behalf of inviter: a scripted contact joins at once, a real
// account gets RNG on each online NS session (mu held).
func (s *Server) ring(ss *sbSession, callee, inviter *Account) {
	if callee.virtual {
		if callee.contact == nil {
			callee.contact = &Contact{s: s, passport: callee.passport, ch: make(chan Message, 256)}
		}
		s.join(ss, &sbPart{acct: callee, virt: callee.contact})
		return
	}
	for _, o := range s.sessionsOf(callee) {
		if !o.chgDone {
			continue
		}
		cookie := s.newSBCookie(sbCookie{passport: callee.passport, guid: o.guid, version: o.ver, session: ss.id})
		args := []string{ss.id, s.SBAddr(), "CKI", cookie, inviter.passport, escName(inviter.friendly)}
		if o.ver >= 13 {
			args = append(args, "U", "messenger.hotmail.com")
		}
		if o.ver >= 14 {
			args = append(args, "1")
		}
		o.send(wire.NewNoTrID("RNG", args...))
	}
}

var ackLetters = map[string]bool{"U": true, "N": true, "A": true, "D": true}

func (s *Server) sbMSG(c *sbConn, cmd *wire.Command) bool {
	if len(cmd.Args) < 1 || !ackLetters[cmd.Args[0]] {
		return true
	}
	ack := cmd.Args[0]
	if strings.Contains(strings.ToLower(headerValue(cmd.Payload, "Content-Type")), "application/x-msnmsgrp2p") && ack != "D" {
		return true
	}
	s.touch(c.sess)
	s.deliver(c.sess, c.part, cmd.Payload)
	if ack == "A" || ack == "D" {
		switch s.ackMode {
		case AckNormal:
			c.send(wire.New("ACK", cmd.TrID))
		case AckNAK:
			c.send(wire.New("NAK", cmd.TrID))
		case AckDelayed:
			trid, delay := cmd.TrID, s.ackDelay
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				select {
				case <-time.After(delay):
					s.mu.Lock()
					c.send(wire.New("ACK", trid))
					s.mu.Unlock()
				case <-s.closed:
				}
			}()
		}
	}
	return false
}

// deliver relays a payload from p to every other participant (mu held).
func (s *Server) deliver(ss *sbSession, from *sbPart, payload []byte) {
	for _, q := range ss.parts {
		if q == from {
			continue
		}
		if q.conn != nil {
			q.conn.send(wire.NewPayloadNoTrID("MSG", payload, from.acct.passport, escName(from.acct.friendly)))
			continue
		}
		if q.virt != nil {
			q.virt.record(Message{From: from.acct.passport, Session: ss.id, ContentType: headerValue(payload, "Content-Type"), Payload: append([]byte(nil), payload...), Body: bodyOf(payload)})
		}
	}
}

// headerValue returns a MIME header of an MSG payload.
func headerValue(payload []byte, name string) string {
	head, _, _ := strings.Cut(strings.ReplaceAll(string(payload), "\r\n", "\n"), "\n\n")
	for _, line := range strings.Split(head, "\n") {
		k, v, ok := strings.Cut(line, ":")
		if ok && strings.EqualFold(strings.TrimSpace(k), name) {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func bodyOf(payload []byte) string {
	p := string(payload)
	if i := strings.Index(p, "\r\n\r\n"); i >= 0 {
		return p[i+4:]
	}
	if i := strings.Index(p, "\n\n"); i >= 0 {
		return p[i+2:]
	}
	return ""
}

func (s *Server) sortedSB() []*sbConn {
	out := make([]*sbConn, 0, len(s.sbConns))
	for c := range s.sbConns {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
	return out
}
