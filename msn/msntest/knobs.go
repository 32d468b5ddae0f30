package msntest

import (
	"context"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/msnbridge/msnbridge/msn/wire"
)

func itoa(n int) string { return strconv.Itoa(n) }

func (s *Server) account(passport string) (*Account, error) {
	a := s.accounts[normPassport(passport)]
	if a == nil {
		return nil, fmt.Errorf("msntest: no account %s", passport)
	}
	return a, nil
}

// withAccounts runs fn with mu held and the accounts of passports (in that order), or
// returns the error for the first passport that has no account.
func (s *Server) withAccounts(fn func(acc ...*Account) error, passports ...string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	acc := make([]*Account, len(passports))
	for i, p := range passports {
		a, err := s.account(p)
		if err != nil {
			return err
		}
		acc[i] = a
	}
	return fn(acc...)
}

// dropSwitchboardsOf drops every switchboard connection of passport (mu not held), idle or
// closed (see dropSB), and returns how many it dropped.
func (s *Server) dropSwitchboardsOf(passport string, idle bool) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.sortedSB() {
		if c.part != nil && c.part.acct.passport == normPassport(passport) {
			s.dropSB(c, idle)
			n++
		}
	}
	return n
}

// SetPresence changes an account's status as if it had sent CHG, and tells its watchers. An
// account with no NS session becomes virtually online (or offline with "FLN").
func (s *Server) SetPresence(passport, status string) error {
	return s.withAccounts(func(acc ...*Account) error {
		a := acc[0]
		if status != "FLN" && !validStatus[status] {
			return fmt.Errorf("msntest: invalid status %q", status)
		}
		was := a.visible()
		if status == "FLN" {
			a.status = ""
			a.virtual = false
		} else {
			a.status = status
			if len(s.sessionsOf(a)) == 0 {
				a.virtual = true
			}
		}
		s.pushPresence(a, was)
		return nil
	}, passport)
}

// SetPersonalMessage stores a personal message (PSM) and pushes UBX to the watchers.
func (s *Server) SetPersonalMessage(passport, psm string) error {
	return s.withAccounts(func(acc ...*Account) error {
		acc[0].psm = psm
		acc[0].dataXML = ""
		s.pushUBX(acc[0])
		return nil
	}, passport)
}

// SetFriendlyName renames an account and pushes the new name to its watchers.
func (s *Server) SetFriendlyName(passport, name string) error {
	return s.withAccounts(func(acc ...*Account) error {
		s.rename(acc[0], name)
		return nil
	}, passport)
}

// SetCapabilities sets the capabilities ("caps" or "caps:capsex") and msnobj shown for an
// account (used for scripted contacts; real sessions set theirs with CHG).
func (s *Server) SetCapabilities(passport, caps, msnobj string) error {
	return s.withAccounts(func(acc ...*Account) error {
		acc[0].caps, acc[0].msnobj = caps, msnobj
		return nil
	}, passport)
}

// Kick sends "OUT <reason>" (e.g. "OTH", "SSD") to every NS session of passport and closes
// them. It returns the number of sessions kicked.
func (s *Server) Kick(passport, reason string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.accounts[normPassport(passport)]
	if a == nil {
		return 0
	}
	n := 0
	for _, c := range s.sessionsOf(a) {
		c.send(wire.NewNoTrID("OUT", reason))
		s.dropNS(c)
		n++
	}
	return n
}

// DropConnections closes every NS and SB connection of passport without a word.
func (s *Server) DropConnections(passport string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.accounts[normPassport(passport)]
	if a == nil {
		return 0
	}
	n := 0
	for _, c := range s.sessionsOf(a) {
		c.conn.Close() // abrupt: nothing queued is flushed
		s.dropNS(c)
		n++
	}
	for _, c := range s.sortedSB() {
		if c.part != nil && c.part.acct == a {
			c.conn.Close()
			s.dropSB(c, false)
			n++
		}
	}
	return n
}

// SendChallenge sends "CHL 0 <challenge>" to every NS session of passport; the next QRY is
// verified with the algorithm of the session's version (540 and close on mismatch). It
// returns the challenge.
func (s *Server) SendChallenge(passport string) (string, error) {
	var chl string
	err := s.withAccounts(func(acc ...*Account) error {
		sessions := s.sessionsOf(acc[0])
		if len(sessions) == 0 {
			return fmt.Errorf("msntest: %s is not logged in", passport)
		}
		chl = randDigits(20)
		for _, c := range sessions {
			c.chl = chl
			c.send(wire.New("CHL", 0, chl))
		}
		return nil
	}, passport)
	if err != nil {
		return "", err
	}
	return chl, nil
}

// AddedBy makes other add owner to its forward list (and allow list) and notifies owner's
// sessions the way the server does for that version (ADD/ADC 0 RL, ADL 0 + NOT).
func (s *Server) AddedBy(owner, other string) error {
	return s.withAccounts(func(acc ...*Account) error {
		a, b := acc[0], acc[1]
		be := b.entry(a.passport, true)
		be.lists |= FL | AL
		be.inAB = true
		ae := a.entry(b.passport, true)
		ae.lists |= RL | PL
		s.notifyAddedBy(a, b)
		return nil
	}, owner, other)
}

// RemovedBy makes other drop owner from its forward list and notifies owner.
func (s *Server) RemovedBy(owner, other string) error {
	return s.withAccounts(func(acc ...*Account) error {
		a, b := acc[0], acc[1]
		if be := b.entry(a.passport, false); be != nil {
			be.lists &^= FL
			be.inAB = false
		}
		if ae := a.entry(b.passport, false); ae != nil {
			ae.lists &^= RL | PL
		}
		s.notifyRemovedBy(a, b)
		return nil
	}, owner, other)
}

// SystemMessage sends an application/x-msmsgssystemmessage maintenance warning (Type 1,
// Arg1 minutes) to every NS session of passport.
func (s *Server) SystemMessage(passport string, minutes int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.accounts[normPassport(passport)]
	if a == nil {
		return
	}
	body := "MIME-Version: 1.0\r\nContent-Type: application/x-msmsgssystemmessage\r\n\r\nType: 1\r\nArg1: " + itoa(minutes) + "\r\n"
	for _, c := range s.sessionsOf(a) {
		c.send(wire.NewPayloadNoTrID("MSG", []byte(body), "Hotmail", "Hotmail"))
	}
}

// WaitLoggedIn waits until passport has a logged-in NS session past its first CHG.
func (s *Server) WaitLoggedIn(ctx context.Context, passport string) error {
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		s.mu.Lock()
		ok := false
		if a := s.accounts[normPassport(passport)]; a != nil {
			for _, c := range s.sessionsOf(a) {
				if c.chgDone {
					ok = true
				}
			}
		}
		s.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("msntest: waiting for %s to log in: %w", passport, ctx.Err())
		case <-s.closed:
			return fmt.Errorf("msntest: server closed")
		case <-tick.C:
		}
	}
}

// ---- offline messages ------------------------------------------------------------------

// OfflineMessage is one stored OIM.
type OfflineMessage struct {
	// ID is the message id (a GUID, upper-case).
	ID string
	// From and FromName are the sender's passport and friendly name.
	From, FromName string
	// To is the recipient passport.
	To string
	// Text is the message text.
	Text string
	// Time is when the server stored it.
	Time time.Time
	// RunID and Seq are the X-OIM-Run-Id and X-OIM-Sequence-Num.
	RunID string
	Seq   int
}

// raw renders the message in the RFC 822 form GetMessage returns.
func (m *OfflineMessage) raw() string {
	date := m.Time.UTC().Format("02 Jan 2006 15:04:05 -0000")
	var b strings.Builder
	b.WriteString("X-Message-Info: cwRBnLifKNE8dVZlNj6AiX8142B67OTjG9BFMLMyzuui1H4Xx7m3NQ==\r\n")
	b.WriteString("Received: from OIM-SSI02.phx.gbl ([65.54.237.206]) by oim1-f1.hotmail.com with Microsoft SMTPSVC(6.0.3790.211);\r\n\t " + date + "\r\n")
	b.WriteString("From: =?utf-8?B?" + base64.StdEncoding.EncodeToString([]byte(m.FromName)) + "?= <" + m.From + ">\r\n")
	b.WriteString("To: " + m.To + "\r\n")
	b.WriteString("Subject: \r\n")
	b.WriteString("X-OIM-originatingSource: 127.0.0.1\r\n")
	b.WriteString("X-OIMProxy: MSNMSGR\r\n")
	b.WriteString("Content-Type: text/plain; charset=UTF-8\r\n")
	b.WriteString("Content-Transfer-Encoding: base64\r\n")
	b.WriteString("X-OIM-Message-Type: OfflineMessage\r\n")
	b.WriteString("X-OIM-Run-Id: {" + m.RunID + "}\r\n")
	b.WriteString("X-OIM-Sequence-Num: " + itoa(m.Seq) + "\r\n")
	b.WriteString("MIME-Version: 1.0\r\n")
	b.WriteString("Message-ID: <" + m.ID + "@hotmail.com>\r\n")
	b.WriteString("Date: " + date + "\r\n")
	b.WriteString("Return-Path: ndr@oim.messenger.msn.com\r\n\r\n")
	enc := base64.StdEncoding.EncodeToString([]byte(m.Text))
	for len(enc) > 76 {
		b.WriteString(enc[:76] + "\r\n")
		enc = enc[76:]
	}
	b.WriteString(enc)
	return b.String()
}

// storeOIM stores an offline message and notifies an online recipient (mu held).
// Sequence numbers only grow per sender and recipient, even when earlier messages were
// deleted, so that messages stored within one second (their Date) keep their order.
func (s *Server) storeOIM(from, fromName, to, text string, t time.Time) *OfflineMessage {
	if s.oimSeq == nil {
		s.oimSeq = make(map[string]int)
	}
	key := from + "\x00" + to
	s.oimSeq[key]++
	seq := s.oimSeq[key]
	m := &OfflineMessage{ID: strings.ToUpper(newGUID()), From: from, FromName: fromName, To: to, Text: text, Time: t, RunID: strings.ToUpper(newGUID()), Seq: seq}
	s.oims = append(s.oims, m)
	if a := s.accounts[to]; a != nil {
		for _, c := range s.sessionsOf(a) {
			if c.chgDone && c.ver >= 11 {
				md := "<MD>" + oimMeta(m, false) + "</MD>"
				c.send(wire.NewPayloadNoTrID("MSG", mailDataMsg("text/x-msmsgsoimnotification", md), "Hotmail", "Hotmail"))
			}
		}
	}
	return m
}

// QueueOfflineMessage stores an OIM from → to as if sent while to was offline; an online
// MSNP11+ recipient gets a text/x-msmsgsoimnotification. It returns the message id.
func (s *Server) QueueOfflineMessage(from, to, text string, t time.Time) (string, error) {
	var id string
	err := s.withAccounts(func(acc ...*Account) error {
		f, r := acc[0], acc[1]
		id = s.storeOIM(f.passport, f.friendly, r.passport, text, t).ID
		return nil
	}, from, to)
	if err != nil {
		return "", err
	}
	return id, nil
}

// OfflineMessages returns copies of the OIMs stored for recipient to ("" = all), including
// those sent by clients through oim.asmx or UUM.
func (s *Server) OfflineMessages(to string) []OfflineMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	to = normPassport(to)
	var out []OfflineMessage
	for _, m := range s.oims {
		if to == "" || m.To == to {
			out = append(out, *m)
		}
	}
	return out
}

// sleepCtx waits ms milliseconds, or fails when ctx ends or the server closes.
func sleepCtx(ctx context.Context, s *Server, ms int) error {
	t := time.NewTimer(time.Duration(ms) * time.Millisecond)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-s.closed:
		return fmt.Errorf("msntest: server closed")
	}
}

// IdleOutSwitchboards drops every switchboard connection of passport as the server does for
// idle participants: the others get "BYE <email> 1".
func (s *Server) IdleOutSwitchboards(passport string) int {
	return s.dropSwitchboardsOf(passport, true)
}

// CloseSwitchboards closes every switchboard connection of passport; the others get BYE.
func (s *Server) CloseSwitchboards(passport string) int {
	return s.dropSwitchboardsOf(passport, false)
}
