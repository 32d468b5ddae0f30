package msntest

import (
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/msnbridge/msnbridge/msn/wire"
)

// nsConn is one notification-server connection. Its fields are guarded by Server.mu.
type nsConn struct {
	s               *Server
	id              uint64
	conn            net.Conn
	out             *outbox
	ver             int
	acct            *Account
	pendingPassport string
	authStarted     bool
	nonce           string
	guid            string
	token           string
	chgDone         bool
	synDone         bool
	chl             string
	gone            bool
}

func (c *nsConn) send(cmd *wire.Command) {
	if c.gone {
		return
	}
	c.out.push(cmd)
}

// sendSetting echoes a privacy setting (BLP, GTC) as version v does: up to MSNP9 a list
// version ("1") precedes the value.
func (c *nsConn) sendSetting(v int, name string, t uint32, value string) {
	if v <= 9 {
		c.send(wire.New(name, t, "1", value))
		return
	}
	c.send(wire.New(name, t, value))
}

func (s *Server) sortedNS() []*nsConn {
	out := make([]*nsConn, 0, len(s.ns))
	for c := range s.ns {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
	return out
}

func (s *Server) limits() wire.Limits {
	return wire.Limits{MaxLine: s.opts.MaxLine, MaxPayload: s.opts.MaxPayload}
}

// admit registers a new connection under mu: add gets the next connection id. When the
// server is already closed, conn is closed instead and admit reports false.
func (s *Server) admit(conn net.Conn, add func(id uint64)) bool {
	s.mu.Lock()
	select {
	case <-s.closed:
		s.mu.Unlock()
		conn.Close()
		return false
	default:
	}
	s.connSeq++
	add(s.connSeq)
	s.mu.Unlock()
	return true
}

// readCommands reads commands from r and hands each to step until a read fails or step
// says stop; a failure other than EOF or a closed connection is logged as "<service> read
// ended".
func (s *Server) readCommands(r *wire.Reader, service string, step func(cmd *wire.Command) (stop bool)) {
	for {
		cmd, err := r.ReadCommand()
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				s.log.Debug().Err(err).Msg(service + " read ended")
			}
			return
		}
		if step(cmd) {
			return
		}
	}
}

// observe fires the command hooks for ev and logs the command (mu not held).
func (s *Server) observe(ev CommandEvent) {
	s.fireHooks(ev)
	s.log.Debug().Str("cmd", ev.Command.String()).Str("passport", ev.Passport).Msg(ev.Service + " <<<")
}

func (s *Server) serveNS(conn net.Conn) {
	var c *nsConn
	if !s.admit(conn, func(id uint64) {
		c = &nsConn{s: s, id: id, conn: conn, out: s.newOutbox(conn)}
		s.ns[c] = struct{}{}
	}) {
		return
	}
	defer func() {
		s.mu.Lock()
		s.dropNS(c)
		s.mu.Unlock()
	}()
	r := wire.NewReader(conn, wire.FromClient, s.limits())
	count := 0
	s.readCommands(r, "NS", func(cmd *wire.Command) bool {
		count++
		s.mu.Lock()
		ev := CommandEvent{Service: "NS", Version: c.ver, Command: cmd}
		if c.acct != nil {
			ev.Passport = c.acct.passport
		}
		silent, dropAfter := s.silent, s.dropAfter
		s.mu.Unlock()
		s.observe(ev)
		if silent {
			return false
		}
		s.mu.Lock()
		closeIt := s.safeHandleNS(c, cmd)
		s.mu.Unlock()
		return closeIt || (dropAfter > 0 && count >= dropAfter)
	})
}

// safeHandleNS handles one command; a panic is logged and closes the connection.
func (s *Server) safeHandleNS(c *nsConn, cmd *wire.Command) (closeIt bool) {
	defer func() {
		if r := recover(); r != nil {
			s.log.Error().Interface("panic", r).Str("cmd", cmd.Name).Msg("NS handler panic")
			closeIt = true
		}
	}()
	return s.handleNS(c, cmd)
}

// dropNS removes a connection, closes it and updates presence (mu held). Idempotent.
func (s *Server) dropNS(c *nsConn) {
	if c.gone {
		return
	}
	c.gone = true
	delete(s.ns, c)
	c.out.close() // the writer flushes what is queued, then closes the socket
	a := c.acct
	if a == nil {
		return
	}
	if c.guid != "" {
		still := false
		for _, o := range s.sessionsOf(a) {
			if o.guid == c.guid {
				still = true
			}
		}
		if !still {
			delete(a.endpoint, c.guid)
		}
	}
	online := false
	for _, o := range s.sessionsOf(a) {
		if o.chgDone {
			online = true
		}
	}
	if online || a.virtual {
		if c.chgDone {
			s.selfSync(a)
		}
		return
	}
	was := a.visible()
	a.status = ""
	if was {
		s.pushPresence(a, true)
	}
}

var versionOrder = []int{18, 17, 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 19, 20, 21}

// handleVER picks the version; it returns 0 when none matched (reply sent, close).
func handleVER(cmd *wire.Command, send func(*wire.Command)) int {
	offered := map[int]bool{}
	for _, a := range cmd.Args {
		if v, ok := strings.CutPrefix(a, "MSNP"); ok {
			if n, err := strconv.Atoi(v); err == nil {
				offered[n] = true
			}
		}
	}
	for _, v := range versionOrder {
		if offered[v] {
			send(wire.New("VER", cmd.TrID, "MSNP"+strconv.Itoa(v)))
			return v
		}
	}
	send(wire.New("VER", cmd.TrID, "0"))
	return 0
}

func cvrReply(cmd *wire.Command) *wire.Command {
	v := cmd.Args[5]
	return wire.New("CVR", cmd.TrID, v, v, v, "https://escargot.log1p.xyz", "https://escargot.log1p.xyz")
}

func authFor(ver int) string {
	switch {
	case ver <= 7:
		return "MD5"
	case ver <= 14:
		return "TWN"
	default:
		return "SSO"
	}
}

const twnChallenge = "ct=1,rver=1,wp=FS_40SEC_0_COMPACT,lc=1,id=1"

// ticket20 extracts the 20-character session token from a ticket ("t=…" or bare).
func ticket20(t string) string {
	t = strings.TrimPrefix(t, "t=")
	if len(t) < 20 {
		return ""
	}
	return t[:20]
}

// handleNS handles one NS command with mu held; it returns true to close the connection.
func (s *Server) handleNS(c *nsConn, cmd *wire.Command) bool {
	if c.ver == 0 {
		if cmd.Name != "VER" {
			return true
		}
		c.ver = handleVER(cmd, c.send)
		return c.ver == 0
	}
	if cmd.HasPayload && len(cmd.Payload) == 0 {
		return false // Escargot drops empty payloads without a reply
	}
	v := c.ver
	switch cmd.Name {
	case "VER":
		return false
	case "INF":
		if v >= 8 {
			return true
		}
		c.send(wire.New("INF", cmd.TrID, "MD5"))
	case "CVR":
		if len(cmd.Args) >= 6 {
			c.send(cvrReply(cmd))
		}
	case "USR":
		return s.nsUSR(c, cmd)
	case "PNG":
		if c.acct == nil {
			return true
		}
		if v >= 9 {
			c.send(wire.NewNoTrID("QNG", "60"))
		} else {
			c.send(wire.NewNoTrID("QNG"))
		}
	case "OUT":
		return true
	default:
		if c.acct == nil {
			return false
		}
		return s.nsLoggedIn(c, cmd)
	}
	return false
}

func (s *Server) nsUSR(c *nsConn, cmd *wire.Command) bool {
	if c.acct != nil || len(cmd.Args) < 3 {
		return false
	}
	typ, stage := cmd.Args[0], cmd.Args[1]
	if typ != authFor(c.ver) {
		return true
	}
	if stage == "I" {
		c.pendingPassport = normPassport(cmd.Args[2])
		c.authStarted = true
		switch typ {
		case "MD5":
			salt := fmt.Sprintf("%d.%06d", time.Now().Unix(), time.Now().Nanosecond()/1000)
			if a := s.accounts[c.pendingPassport]; a != nil {
				salt = a.salt
			}
			c.nonce = salt
			c.send(wire.New("USR", cmd.TrID, "MD5", "S", salt))
		case "TWN":
			if c.ver >= 13 {
				c.send(wire.NewPayload("GCF", 0, []byte(policiesXML)))
			}
			c.send(wire.New("USR", cmd.TrID, "TWN", "S", twnChallenge))
		case "SSO":
			c.send(wire.NewPayload("GCF", 0, []byte(policiesXML)))
			c.nonce = base64.StdEncoding.EncodeToString(randBytes(48))
			c.send(wire.New("USR", cmd.TrID, "SSO", "S", "MBI_KEY_OLD", c.nonce))
		}
		return false
	}
	if stage != "S" {
		return false
	}
	fail := func() bool {
		c.send(wire.New("911", cmd.TrID))
		return true
	}
	if !c.authStarted {
		return fail()
	}
	a := s.accounts[c.pendingPassport]
	var token string
	switch typ {
	case "MD5":
		if a == nil || md5Hex(c.nonce+a.password) != strings.ToLower(cmd.Args[2]) {
			return fail()
		}
		token = randHex(20)
	case "TWN":
		token = ticket20(cmd.Args[2])
		t, ok := s.twnTokens[token]
		if a == nil || !ok || t.passport != a.passport || time.Now().After(t.expires) {
			return fail()
		}
	case "SSO":
		if c.ver >= 16 && len(cmd.Args) < 5 {
			return false // Escargot raises IndexError: no reply, connection stays open
		}
		token = ticket20(cmd.Args[2])
		t, ok := s.ssoTokens[token]
		if a == nil || !ok || t.passport != a.passport || time.Now().After(t.expires) {
			return fail()
		}
		blob := ""
		if len(cmd.Args) >= 4 {
			blob = cmd.Args[3]
		}
		if (c.ver >= 16 || blob != "") && !verifyMBI(t.secret, c.nonce, blob) {
			return fail()
		}
		if c.ver >= 16 {
			c.guid = normGUID(cmd.Args[4])
		}
	}
	s.loginOK(c, a, cmd.TrID, token)
	return false
}

func (s *Server) loginOK(c *nsConn, a *Account, trid uint32, token string) {
	// Boot older sessions: always before MSNP16, same machine GUID on MSNP16+.
	for _, o := range s.sessionsOf(a) {
		if c.ver < 16 || o.ver < 16 || o.guid == c.guid {
			o.send(wire.NewNoTrID("OUT", "OTH"))
			s.dropNS(o)
		}
	}
	c.acct = a
	c.token = token
	a.logins++
	if c.guid != "" {
		if _, ok := a.endpoint[c.guid]; !ok {
			a.endpoint[c.guid] = &endpoint{guid: c.guid}
		}
	}
	name := escName(a.friendly)
	switch {
	case c.ver <= 5:
		c.send(wire.New("USR", trid, "OK", a.passport, name))
	case c.ver <= 7:
		c.send(wire.New("USR", trid, "OK", a.passport, name, "1"))
	case c.ver <= 9:
		c.send(wire.New("USR", trid, "OK", a.passport, name, "1", "0"))
	default:
		c.send(wire.New("USR", trid, "OK", a.passport, "1", "0"))
	}
	if c.ver >= 11 {
		c.send(wire.New("SBS", 0, "null"))
	}
	c.send(wire.NewPayloadNoTrID("MSG", []byte(s.profile(c, a)), "Hotmail", "Hotmail"))
	if c.ver >= 16 {
		if c.ver >= 18 {
			c.send(wire.NewPayloadNoTrID("UBX", []byte{}, "1:"+a.passport))
		} else {
			c.send(wire.NewPayloadNoTrID("UBX", []byte{}, a.passport, "1"))
		}
	}
	s.log.Info().Str("passport", a.passport).Int("msnp", c.ver).Msg("NS login")
}

const mspAuthTail = "Y6+H31sTUOFkqjNTDYqAAFLr5Ote7BMrMnUIzpg860jh084QMgs5djRQLLQP0TVOFkKdWDwAJdEWcfsI9YL8otN9kSfhTaPHR1njHmG0H98O2NE/Ck6zrog3UJFmYlCnHidZk1g3AzUNVXmjZoyMSyVvoHLjQSzoGRpgHg3hHdi7zrFhcYKWD8XeNYdoz9wfA2YAAAgZIgF9kFvsy2AC0Fl/ezc/fSo6YgB9TwmXyoK0wm0F9nz5EfhHQLu2xxgsvMOiXUSFSpN1cZaNzEk/KGVa3Z33Mcu0qJqvXoLyv2VjQyI0VLH6YlW5E+GMwWcQurXB9hT/DnddM5Ggzk3nX8uMSV4kV+AgF1EWpiCdLViRI6DmwwYDtUJU6W6wQXsfyTm6CNMv0eE0wFXmZvoKaL24fggkp99dX+m1vgMQJ39JblVH9cmnnkBQcKkV8lnQJ003fd6iIFzGpgPBW5Z3T1Bp7uzSGMWnHmrEw8eOpKC5ny4x8uoViXDmA2UId23xYSoJ/GQrMjqB+NslqnuVsOBE1oWpNrmfSKhGU1X0kR4Eves56t5i5n3XU+7ne0MkcUzlrMi89n2j8aouf0zeuD7o+ngqvfRCsOqjaU71XWtuD4ogu2X7/Ajtwkxg/UJDFGAnCxFTTd4dqrrEpKyMK8eWBMaartFxwwrH39HMpx1T9JgknJ1hFWELzG8b302sKy64nCseOTGaZrdH63pjGkT7vzyIxVH/b+yJwDRmy/PlLz7fmUj6zpTBNmCtl1EGFOEFdtI2R04EprIkLXbtpoIPA7m0TPZURpnWufCSsDtD91ChxR8j/FnQ/gOOyKg/EJrTcHvM1e50PMRmoRZGlltBRRwBV+ArPO64On6zygr5zud5o/aADF1laBjkuYkjvUVsXwgnaIKbTLN2+sr/WjogxT1Yins79jPa1+3dDenxZtE/rHA/6qsdJmo5BJZqNYQUFrnpkU428LryMnBaNp2BW51JRsWXPAA7yCi0wDlHzEDxpqaOnhI4Ol87ra+VAg=="

// ticketFor returns the full compact ticket for a 20-character token.
func ticketFor(token string) string { return "t=" + token + mspAuthTail + "&p=" }

func (s *Server) profile(c *nsConn, a *Account) string {
	port := 0
	if ta, ok := c.conn.RemoteAddr().(*net.TCPAddr); ok {
		port = ta.Port
	}
	swapped := (port&0xff)<<8 | (port>>8)&0xff
	var b strings.Builder
	b.WriteString("MIME-Version: 1.0\r\nContent-Type: text/x-msmsgsprofile; charset=UTF-8\r\n")
	fmt.Fprintf(&b, "LoginTime: %d\r\nEmailEnabled: 0\r\nMemberIdHigh: %d\r\nMemberIdLow: %d\r\n", time.Now().Unix(), a.memberHi, a.memberLo)
	b.WriteString("lang_preference: 1033\r\npreferredEmail:\r\ncountry:\r\nPostalCode:\r\nGender:\r\nKid: 0\r\nAge:\r\nBDayPre:\r\nBirthday:\r\nWallet:\r\nFlags: 536872513\r\nsid: 507\r\n")
	b.WriteString("MSPAuth: " + c.token + mspAuthTail + "&p=\r\n")
	fmt.Fprintf(&b, "ClientIP: 127.0.0.1\r\nClientPort: %d\r\nABCHMigrated: 1\r\n", swapped)
	if c.guid != "" {
		b.WriteString("MPOPEnabled: 1\r\n")
	}
	b.WriteString("\r\n")
	return b.String()
}

var validStatus = map[string]bool{"NLN": true, "BSY": true, "IDL": true, "BRB": true, "AWY": true, "PHN": true, "LUN": true, "HDN": true}

// nsLoggedIn handles commands that need a logged-in session.
func (s *Server) nsLoggedIn(c *nsConn, cmd *wire.Command) bool {
	a, v, t := c.acct, c.ver, cmd.TrID
	switch cmd.Name {
	case "CHG":
		if len(cmd.Args) < 1 || (v >= 8 && len(cmd.Args) < 2) {
			return false
		}
		st := cmd.Args[0]
		if !validStatus[st] {
			c.send(wire.New("201", t))
			return false
		}
		c.send(wire.New("CHG", t, cmd.Args...))
		was := a.visible()
		a.status = st
		if len(cmd.Args) >= 2 {
			a.caps = cmd.Args[1]
			if ep := a.endpoint[c.guid]; ep != nil {
				ep.caps = cmd.Args[1]
			}
		}
		if len(cmd.Args) >= 3 {
			a.msnobj = cmd.Args[2]
		}
		if !c.chgDone {
			c.chgDone = true
			s.initialBurst(c, t)
		}
		s.pushPresence(a, was)
	case "SYN":
		if v >= 13 {
			c.send(wire.New("502", t))
			return false
		}
		c.synDone = true
		s.sendSYN(c, cmd)
	case "GCF":
		if v < 11 {
			return true
		}
		if v <= 12 && !c.synDone {
			c.send(wire.New("715", t))
			return false
		}
		c.send(wire.NewPayload("GCF", t, []byte(shieldsXML), "Shields.xml"))
	case "BLP":
		if len(cmd.Args) < 1 || (cmd.Args[0] != "AL" && cmd.Args[0] != "BL") {
			c.send(wire.New("201", t))
			return false
		}
		a.blp = cmd.Args[0]
		c.sendSetting(v, "BLP", t, a.blp)
	case "GTC":
		if len(cmd.Args) < 1 {
			return false
		}
		a.gtc = cmd.Args[0]
		c.sendSetting(v, "GTC", t, a.gtc)
	case "PRP":
		if len(cmd.Args) < 2 {
			return false
		}
		if cmd.Args[0] == "MFN" {
			if v < 10 {
				c.send(wire.New("715", t))
				return false
			}
			s.rename(a, wire.DecodeParam(cmd.Args[1]))
			c.send(wire.New("PRP", t, "MFN", escName(a.friendly)))
			return false
		}
		c.send(wire.New("PRP", t, cmd.Args...))
	case "REA":
		if v >= 10 {
			c.send(wire.New("502", t))
			return false
		}
		if len(cmd.Args) < 2 {
			return false
		}
		who := normPassport(cmd.Args[0])
		name := wire.DecodeParam(cmd.Args[1])
		if who == a.passport {
			s.rename(a, name)
			name = a.friendly
		}
		c.send(wire.New("REA", t, "1", who, escName(name)))
	case "UUX":
		s.nsUUX(c, cmd)
	case "ADD":
		if v <= 9 {
			s.nsADD(c, cmd)
		}
	case "ADC":
		if v >= 10 && v <= 12 {
			s.nsADC(c, cmd)
		}
	case "REM":
		if v <= 12 {
			s.nsREM(c, cmd)
		}
	case "ADL", "RML":
		if v >= 13 {
			s.nsADL(c, cmd)
		}
	case "FQY":
		if v >= 14 {
			s.nsFQY(c, cmd)
		}
	case "UUN":
		c.send(wire.New("UUN", t, "OK"))
	case "UUM":
		s.nsUUM(c, cmd)
	case "XFR":
		if len(cmd.Args) < 1 || cmd.Args[0] != "SB" {
			return false
		}
		if !c.chgDone || (a.status == "HDN" && v < 13) {
			c.send(wire.New("913", t))
			return false
		}
		cookie := s.newSBCookie(sbCookie{passport: a.passport, guid: c.guid, version: v})
		args := []string{"SB", s.SBAddr(), "CKI", cookie}
		if v >= 13 {
			args = append(args, "U", "messenger.msn.com")
		}
		if v >= 14 {
			args = append(args, "1")
		}
		c.send(wire.New("XFR", t, args...))
	case "QRY":
		if c.chl == "" {
			return false // Escargot swallows unsolicited QRY
		}
		chl := c.chl
		c.chl = ""
		pk, ok := productKeys[cmd.Arg(0)]
		if !ok || !strings.EqualFold(strings.TrimSpace(string(cmd.Payload)), challengeAnswer(v, chl, cmd.Arg(0), pk.key)) {
			c.send(wire.New("540", t))
			return true
		}
		c.send(wire.New("QRY", t))
	}
	return false
}

func (s *Server) rename(a *Account, name string) {
	if name == "" || len(name) > 387 {
		return
	}
	a.friendly = name
	if a.visible() {
		for _, w := range s.watchers(a) {
			w.send(nlnCmd(w.ver, a))
		}
		s.selfSync(a)
	}
}

// initialBurst sends, after the first CHG, the presence of online contacts, the mail data and
// (MSNP16+) the session's own presence.
func (s *Server) initialBurst(c *nsConn, trid uint32) {
	a := c.acct
	for _, e := range a.sortedEntries() {
		if e.lists&FL == 0 {
			continue
		}
		b := s.accounts[e.passport]
		if b == nil || !b.visible() || !b.allows(a.passport) {
			continue
		}
		c.send(initialPresence(c.ver, trid, b))
		if c.ver >= 11 {
			c.send(ubxCmd(c.ver, b, false))
		}
	}
	if c.ver >= 11 {
		c.send(wire.NewPayloadNoTrID("MSG", mailDataMsg("text/x-msmsgsinitialmdatanotification", s.mailData(a, true)), "Hotmail", "Hotmail"))
	}
}

// sendSYN sends the historical contact list for MSNP2–12.
func (s *Server) sendSYN(c *nsConn, cmd *wire.Command) {
	a, v, t := c.acct, c.ver, cmd.TrID
	entries := a.sortedEntries()
	mask := FL | AL | BL | RL
	if v >= 12 {
		mask |= PL
	}
	switch {
	case v <= 7:
		if cmd.Arg(0) == "1" {
			c.send(wire.New("SYN", t, "1"))
			return
		}
		c.send(wire.New("SYN", t, "1"))
		c.send(wire.New("GTC", t, "1", a.gtc))
		c.send(wire.New("BLP", t, "1", a.blp))
		if v >= 7 {
			groups := s.numericGroups(a)
			for i, g := range groups {
				c.send(wire.New("LSG", t, "1", strconv.Itoa(i+1), strconv.Itoa(len(groups)), g.ID, escName(g.Name), "0"))
			}
		}
		for _, l := range []struct {
			name string
			bit  int
		}{{"FL", FL}, {"AL", AL}, {"BL", BL}, {"RL", RL}} {
			var on []*listEntry
			for _, e := range entries {
				if e.lists&l.bit != 0 {
					on = append(on, e)
				}
			}
			if len(on) == 0 {
				c.send(wire.New("LST", t, l.name, "1", "0", "0"))
				continue
			}
			for i, e := range on {
				args := []string{l.name, "1", strconv.Itoa(i + 1), strconv.Itoa(len(on)), e.passport, escName(s.nameOf(e.passport))}
				if v >= 7 && l.bit == FL {
					args = append(args, s.numericGroupList(a, e))
				}
				c.send(wire.New("LST", t, args...))
			}
		}
	case v <= 9:
		if cmd.Arg(0) == "1" {
			c.send(wire.New("SYN", t, "1"))
			return
		}
		groups := s.numericGroups(a)
		c.send(wire.New("SYN", t, "1", strconv.Itoa(len(entries)), strconv.Itoa(len(groups))))
		c.send(wire.NewNoTrID("GTC", a.gtc))
		c.send(wire.NewNoTrID("BLP", a.blp))
		for _, g := range groups {
			c.send(wire.NewNoTrID("LSG", g.ID, escName(g.Name), "0"))
		}
		for _, e := range entries {
			args := []string{e.passport, escName(s.nameOf(e.passport)), strconv.Itoa(e.lists & mask)}
			if e.lists&FL != 0 {
				args = append(args, s.numericGroupList(a, e))
			}
			c.send(wire.NewNoTrID("LST", args...))
		}
	default:
		const ts = "2000-01-01T00:00:00.0-00:00"
		c.send(wire.New("SYN", t, ts, ts, strconv.Itoa(len(entries)), strconv.Itoa(len(a.groups))))
		c.send(wire.NewNoTrID("GTC", a.gtc))
		c.send(wire.NewNoTrID("BLP", a.blp))
		c.send(wire.NewNoTrID("PRP", "MFN", escName(a.friendly)))
		for _, g := range a.groups {
			c.send(wire.NewNoTrID("LSG", escName(g.Name), g.ID))
		}
		for _, e := range entries {
			args := []string{"N=" + e.passport, "F=" + escName(s.nameOf(e.passport))}
			if e.lists&FL != 0 {
				args = append(args, "C="+e.contactID, strconv.Itoa(e.lists&mask))
				if v >= 12 {
					args = append(args, "1")
				}
				args = append(args, strings.Join(e.groups, ","))
			} else {
				args = append(args, strconv.Itoa(e.lists&mask))
			}
			c.send(wire.NewNoTrID("LST", args...))
		}
	}
}

func (s *Server) nameOf(p string) string {
	if b := s.accounts[p]; b != nil {
		return b.friendly
	}
	return p
}

// numericGroups lists MSNP≤9 groups: group 0 "Other Contacts" and the custom ones numbered.
func (s *Server) numericGroups(a *Account) []Group {
	out := []Group{{ID: "0", Name: "Other Contacts"}}
	for i, g := range a.groups {
		out = append(out, Group{ID: strconv.Itoa(i + 1), Name: g.Name})
	}
	return out
}

func (s *Server) numericGroupList(a *Account, e *listEntry) string {
	var ids []string
	for _, gid := range e.groups {
		for i, g := range a.groups {
			if g.ID == gid {
				ids = append(ids, strconv.Itoa(i+1))
			}
		}
	}
	if len(ids) == 0 {
		return "0"
	}
	return strings.Join(ids, ",")
}

type uuxData struct {
	XMLName     xml.Name
	PSM         string `xml:"PSM"`
	Media       string `xml:"CurrentMedia"`
	MachineGUID string `xml:"MachineGuid"`
	Caps        string `xml:"Capabilities"`
	EpName      string `xml:"EpName"`
	ClientType  string `xml:"ClientType"`
	State       string `xml:"State"`
	Idle        string `xml:"Idle"`
}

func decodeXML(s string, v any) error {
	d := xml.NewDecoder(strings.NewReader(s))
	d.Strict = false
	if err := d.Decode(v); err != nil {
		return fmt.Errorf("decode XML: %w", err)
	}
	return nil
}

func (s *Server) nsUUX(c *nsConn, cmd *wire.Command) {
	a := c.acct
	var d uuxData
	if err := decodeXML(string(cmd.Payload), &d); err != nil {
		return
	}
	switch d.XMLName.Local {
	case "Data":
		a.psm, a.media = d.PSM, d.Media
		a.dataXML = string(cmd.Payload)
	case "EndpointData":
		if ep := a.endpoint[c.guid]; ep != nil {
			ep.caps = d.Caps
		}
	case "PrivateEndpointData":
		if ep := a.endpoint[c.guid]; ep != nil {
			ep.epName, ep.clientType, ep.state, ep.idle = d.EpName, d.ClientType, d.State, d.Idle
		}
	}
	c.send(wire.New("UUX", cmd.TrID, "0"))
	if d.XMLName.Local == "Data" {
		s.pushUBX(a)
	}
}

// addToList applies a list addition by owner a for contact b and the side effects (mu held).
// It returns true when FL was newly added.
func (s *Server) addToList(a, b *Account, bits int) bool {
	e := a.entry(b.passport, true)
	newFL := bits&FL != 0 && e.lists&FL == 0
	e.lists |= bits
	if newFL {
		e.inAB = true
		be := b.entry(a.passport, true)
		if be.lists&RL == 0 {
			be.lists |= RL
			s.notifyAddedBy(b, a)
		}
	}
	return newFL
}

func (s *Server) removeFromList(a, b *Account, bits int) {
	e := a.entry(b.passport, false)
	if e == nil {
		return
	}
	hadFL := e.lists&FL != 0
	e.lists &^= bits
	if hadFL && bits&FL != 0 {
		e.inAB = false
		if be := b.entry(a.passport, false); be != nil && be.lists&RL != 0 {
			be.lists &^= RL
			s.notifyRemovedBy(b, a)
		}
	}
}

var listBits = map[string]int{"FL": FL, "AL": AL, "BL": BL, "RL": RL, "PL": PL}

// showNewContact sends the presence of b to c after c put b on its FL.
func (s *Server) showNewContact(c *nsConn, b *Account, trid uint32) {
	if c.chgDone && b.visible() && b.allows(c.acct.passport) {
		c.send(initialPresence(c.ver, trid, b))
		if c.ver >= 11 {
			c.send(ubxCmd(c.ver, b, false))
		}
	}
}

func (s *Server) nsADD(c *nsConn, cmd *wire.Command) {
	t := cmd.TrID
	if len(cmd.Args) < 2 {
		c.send(wire.New("201", t))
		return
	}
	bit, ok := listBits[cmd.Args[0]]
	if !ok || bit == RL || bit == PL {
		c.send(wire.New("201", t))
		return
	}
	b := s.accounts[normPassport(cmd.Args[1])]
	if b == nil {
		c.send(wire.New("205", t))
		return
	}
	if c.acct.lists(b.passport)&bit != 0 {
		c.send(wire.New("215", t))
		return
	}
	// Like Escargot, ADD/ADC answer without an ILN for the new contact (contact_add
	// transcript); presence follows the contact's next change.
	s.addToList(c.acct, b, bit)
	args := []string{cmd.Args[0], "1", b.passport, escName(b.friendly)}
	if len(cmd.Args) >= 4 && bit == FL {
		args = append(args, cmd.Args[3])
	}
	c.send(wire.New("ADD", t, args...))
}

func (s *Server) nsADC(c *nsConn, cmd *wire.Command) {
	t := cmd.TrID
	if len(cmd.Args) < 2 {
		c.send(wire.New("201", t))
		return
	}
	bit, ok := listBits[cmd.Args[0]]
	if !ok || bit == RL || bit == PL {
		c.send(wire.New("201", t))
		return
	}
	if cid, ok := strings.CutPrefix(cmd.Args[1], "C="); ok {
		// add an existing contact to a group
		for _, e := range c.acct.entries {
			if e.contactID == cid && len(cmd.Args) >= 3 && c.acct.hasGroup(cmd.Args[2]) {
				if !containsStr(e.groups, cmd.Args[2]) {
					e.groups = append(e.groups, cmd.Args[2])
				}
				c.send(wire.New("ADC", t, cmd.Args...))
				return
			}
		}
		c.send(wire.New("224", t))
		return
	}
	p, ok := strings.CutPrefix(cmd.Args[1], "N=")
	if !ok {
		c.send(wire.New("201", t))
		return
	}
	b := s.accounts[normPassport(p)]
	if b == nil {
		c.send(wire.New("205", t))
		return
	}
	if c.acct.lists(b.passport)&bit != 0 {
		c.send(wire.New("215", t))
		return
	}
	s.addToList(c.acct, b, bit)
	if bit == FL {
		e := c.acct.entries[b.passport]
		c.send(wire.New("ADC", t, "FL", "N="+b.passport, "F="+escName(b.friendly), "C="+e.contactID))
	} else {
		c.send(wire.New("ADC", t, cmd.Args[0], "N="+b.passport))
	}
}

func (s *Server) nsREM(c *nsConn, cmd *wire.Command) {
	t, a := cmd.TrID, c.acct
	if len(cmd.Args) < 2 {
		c.send(wire.New("201", t))
		return
	}
	bit, ok := listBits[cmd.Args[0]]
	if !ok || bit == PL {
		c.send(wire.New("201", t))
		return
	}
	if bit == RL {
		c.send(wire.New("201", t))
		return
	}
	var e *listEntry
	if c.ver >= 10 && bit == FL {
		for _, x := range a.entries {
			if x.contactID == cmd.Args[1] {
				e = x
			}
		}
	} else {
		e = a.entries[normPassport(cmd.Args[1])]
	}
	if e == nil || e.lists&bit == 0 {
		c.send(wire.New("216", t))
		return
	}
	if len(cmd.Args) >= 3 && bit == FL {
		// remove from one group only
		gid := cmd.Args[2]
		var keep []string
		for _, g := range e.groups {
			if g != gid && !(c.ver <= 9 && s.numericGroupList(a, &listEntry{groups: []string{g}}) == gid) {
				keep = append(keep, g)
			}
		}
		e.groups = keep
		if c.ver <= 9 {
			c.send(wire.New("REM", t, cmd.Args[0], "1", cmd.Args[1], gid))
		} else {
			c.send(wire.New("REM", t, cmd.Args...))
		}
		return
	}
	if b := s.accounts[e.passport]; b != nil {
		s.removeFromList(a, b, bit)
	} else {
		e.lists &^= bit
	}
	if c.ver <= 9 {
		c.send(wire.New("REM", t, cmd.Args[0], "1", cmd.Args[1]))
	} else {
		c.send(wire.New("REM", t, cmd.Args...))
	}
}

type mlDoc struct {
	L       string `xml:"l,attr"`
	Domains []struct {
		N  string `xml:"n,attr"`
		Cs []struct {
			N string `xml:"n,attr"`
			L string `xml:"l,attr"`
			T string `xml:"t,attr"`
		} `xml:"c"`
	} `xml:"d"`
}

var knownNetworks = map[string]bool{"1": true, "2": true, "4": true, "32": true, "9": true}

func (s *Server) nsADL(c *nsConn, cmd *wire.Command) {
	t, a := cmd.TrID, c.acct
	var ml mlDoc
	if err := decodeXML(string(cmd.Payload), &ml); err != nil {
		c.send(wire.New("241", t))
		return
	}
	if cmd.Name == "ADL" && ml.L == "1" {
		c.send(wire.New("ADL", t, "OK"))
		return
	}
	type item struct {
		b    *Account
		bits int
	}
	var items []item
	for _, d := range ml.Domains {
		if len(d.Cs) == 0 {
			c.send(wire.New("240", t))
			return
		}
		for _, x := range d.Cs {
			bits, err := strconv.Atoi(x.L)
			if err != nil || bits <= 0 || bits&^(FL|AL|BL) != 0 {
				c.send(wire.New("241", t))
				return
			}
			if !knownNetworks[x.T] {
				c.send(wire.New("204", t))
				return
			}
			b := s.accounts[normPassport(x.N+"@"+d.N)]
			if b == nil {
				c.send(wire.New("208", t))
				return
			}
			items = append(items, item{b, bits})
		}
	}
	for _, it := range items {
		if cmd.Name == "ADL" {
			if s.addToList(a, it.b, it.bits) {
				s.showNewContact(c, it.b, t)
			}
		} else {
			s.removeFromList(a, it.b, it.bits)
		}
	}
	c.send(wire.New(cmd.Name, t, "OK"))
}

func (s *Server) nsFQY(c *nsConn, cmd *wire.Command) {
	var ml mlDoc
	if err := decodeXML(string(cmd.Payload), &ml); err != nil {
		c.send(wire.New("241", cmd.TrID))
		return
	}
	var b strings.Builder
	b.WriteString("<ml>")
	for _, d := range ml.Domains {
		b.WriteString(`<d n="` + xmlEsc(d.N) + `">`)
		for _, x := range d.Cs {
			b.WriteString(`<c n="` + xmlEsc(x.N) + `" t="1" />`)
		}
		b.WriteString("</d>")
	}
	b.WriteString("</ml>")
	c.send(wire.NewPayload("FQY", cmd.TrID, []byte(b.String())))
}

// nsUUM stores MSNP18 offline text sent with UUM (no reply, like Escargot).
func (s *Server) nsUUM(c *nsConn, cmd *wire.Command) {
	if len(cmd.Args) < 1 {
		return
	}
	to := s.accounts[normPassport(cmd.Args[0])]
	if to == nil || to.visible() || !to.allows(c.acct.passport) {
		return
	}
	_, body, _ := strings.Cut(strings.ReplaceAll(string(cmd.Payload), "\r\n", "\n"), "\n\n")
	text := body
	if strings.Contains(strings.ToLower(string(cmd.Payload)), "content-transfer-encoding: base64") {
		if dec, err := base64.StdEncoding.DecodeString(strings.TrimSpace(body)); err == nil {
			text = string(dec)
		}
	}
	s.storeOIM(c.acct.passport, c.acct.friendly, to.passport, text, time.Now())
}

func (s *Server) newSBCookie(ck sbCookie) string {
	token := randHex(20)
	ck.expires = time.Now().Add(s.opts.SBCookieTTL)
	s.sbCookies[token] = ck
	return token
}

// ---- dispatch server -------------------------------------------------------------------

func (s *Server) serveDS(conn net.Conn) {
	s.mu.Lock()
	select {
	case <-s.closed:
		s.mu.Unlock()
		conn.Close()
		return
	default:
	}
	s.dsConns[conn] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.dsConns, conn)
		s.mu.Unlock()
		conn.Close()
	}()
	w := wire.NewWriter(conn)
	send := func(c *wire.Command) {
		_ = conn.SetWriteDeadline(time.Now().Add(s.opts.WriteTimeout))
		_ = w.WriteCommand(c)
	}
	r := wire.NewReader(conn, wire.FromClient, s.limits())
	ver := 0
	for {
		cmd, err := r.ReadCommand()
		if err != nil {
			return
		}
		s.fireHooks(CommandEvent{Service: "DS", Version: ver, Command: cmd})
		switch {
		case ver == 0:
			if cmd.Name != "VER" {
				return
			}
			if ver = handleVER(cmd, send); ver == 0 {
				return
			}
		case cmd.Name == "INF" && ver <= 7:
			send(wire.New("INF", cmd.TrID, "MD5"))
		case cmd.Name == "CVR":
			if len(cmd.Args) >= 6 {
				send(cvrReply(cmd))
			}
		case cmd.Name == "USR" && cmd.Arg(1) == "I":
			ns := s.NSAddr()
			if s.opts.AdvertiseNS != "" {
				ns = s.opts.AdvertiseNS
			}
			switch {
			case ver <= 7:
				send(wire.New("XFR", cmd.TrID, "NS", ns, "0"))
			case ver <= 12:
				send(wire.New("XFR", cmd.TrID, "NS", ns, "0", s.DispatchAddr()))
			default:
				send(wire.New("XFR", cmd.TrID, "NS", ns, "U", "D"))
			}
			return
		case cmd.Name == "OUT":
			return
		}
	}
}
