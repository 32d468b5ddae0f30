package ns

import (
	"bytes"
	"strconv"
	"strings"

	"github.com/msnbridge/msnbridge/msn/wire"
)

// handle processes one command from the server; it reports whether reading must stop.
func (s *Session) handle(cmd *wire.Command) bool {
	switch cmd.Name {
	case "ILN":
		s.onPresence(cmd, true)
		return false
	case "NLN":
		s.onPresence(cmd, false)
		return false
	case "FLN":
		s.onFLN(cmd)
		return false
	case "UBX":
		s.onUBX(cmd)
		return false
	case "LST", "LSG", "BPR":
		s.onSyncLine(cmd)
		return false
	case "SYN":
		s.onSYN(cmd)
	case "GTC", "BLP":
		// list settings: informative only
	case "PRP":
		s.onPRP(cmd)
	case "CHG":
		if cmd.TrID == 0 && len(cmd.Args) > 0 && validStatus(cmd.Args[0]) {
			s.mu.Lock()
			s.status = internStatus(cmd.Args[0])
			s.mu.Unlock()
		}
	case "ADD", "ADC", "REM":
		if cmd.HasTrID && cmd.TrID == 0 {
			s.onListPush(cmd)
			return false
		}
	case "ADL", "RML":
		if cmd.HasTrID && cmd.TrID == 0 {
			s.onMLPush(cmd)
			return false
		}
	case "RNG":
		s.onRNG(cmd)
		return false
	case "MSG":
		s.onMSG(cmd)
		return false
	case "CHL":
		s.onCHL(cmd)
		return false
	case "QNG":
		n, _ := strconv.Atoi(cmd.Arg(0))
		s.gotQNG(n)
		return false
	case "OUT":
		s.onOUT(cmd)
		return true
	case "UBN":
		if s.onUBN(cmd) {
			return true
		}
		return false
	case "XFR":
		if !s.deliver(cmd) && cmd.Arg(0) == "NS" {
			s.fail(&DisconnectError{Reason: "server moved the session to " + cmd.Arg(1)})
			return true
		}
		return false
	}
	if !s.deliver(cmd) {
		if cmd.IsError() {
			s.logger().Warn().Stringer("cmd", cmd).Msg("unsolicited error from the server")
		} else {
			s.logger().Debug().Stringer("cmd", cmd).Msg("ignored server command")
		}
	}
	return false
}

func (s *Session) isSelf(passport string) bool { return passport == s.passport }

func (s *Session) onPresence(cmd *wire.Command, initial bool) {
	p, err := parsePresence(s.Version(), cmd.Args)
	if err != nil {
		s.logger().Debug().Err(err).Stringer("cmd", cmd).Msg("bad presence line")
		return
	}
	self := s.isSelf(p.Passport)
	s.mu.Lock()
	var c *contact
	if self {
		c = &contact{passport: p.Passport, name: s.name}
		c.setProfile(s.psm, "")
		if p.HasName {
			s.name = p.FriendlyName
			c.name = p.FriendlyName
		}
	} else {
		if !s.roomForLocked(p.Passport) {
			s.mu.Unlock()
			s.logger().Warn().Msg("contact limit reached; presence of an unknown handle ignored")
			return
		}
		c = s.contactLocked(p.Passport)
	}
	oldName := c.name
	c.setStatus(p.Status)
	if p.HasName && !self {
		c.setName(p.FriendlyName)
	}
	if c.caps != p.Caps {
		c.caps = p.Caps
	}
	if c.msnobj != p.MSNObject {
		c.msnobj = p.MSNObject
	}
	snap := c.snapshot()
	s.mu.Unlock()
	s.emit(&PresenceEvent{Contact: snap, Initial: initial, Self: self})
	if p.HasName && p.FriendlyName != oldName && !self {
		s.emit(&ProfileEvent{Passport: p.Passport, FriendlyName: p.FriendlyName, PersonalMessage: snap.PersonalMessage, CurrentMedia: snap.CurrentMedia})
	}
}

func (s *Session) onFLN(cmd *wire.Command) {
	pp, err := parseFLN(s.Version(), cmd.Args)
	if err != nil {
		s.logger().Debug().Err(err).Stringer("cmd", cmd).Msg("bad FLN")
		return
	}
	if s.isSelf(pp) {
		s.emit(&PresenceEvent{Contact: Contact{Passport: pp, Status: Offline, FriendlyName: s.FriendlyName()}, Self: true})
		return
	}
	s.mu.Lock()
	if _, known := s.contacts[pp]; !known {
		s.mu.Unlock()
		return
	}
	c := s.contactLocked(pp)
	c.setStatus(Offline)
	snap := c.snapshot()
	s.mu.Unlock()
	s.emit(&PresenceEvent{Contact: snap})
}

func (s *Session) onUBX(cmd *wire.Command) {
	pp, err := ubxHandle(cmd.Args)
	if err != nil {
		s.logger().Debug().Err(err).Stringer("cmd", cmd).Msg("bad UBX")
		return
	}
	d, err := parseUBX(cmd.Payload)
	if err != nil {
		s.logger().Debug().Err(err).Str("contact", pp).Msg("malformed UBX payload discarded")
		return
	}
	eps := d.endpoints()
	epKey := endpointsKey(eps)
	if s.isSelf(pp) {
		s.mu.Lock()
		changed := s.psm != d.PSM || s.selfEndpoints != epKey
		s.psm = d.PSM
		s.selfEndpoints = epKey
		name := s.name
		s.mu.Unlock()
		if changed {
			s.emit(&ProfileEvent{Passport: pp, FriendlyName: name, PersonalMessage: d.PSM, CurrentMedia: d.CurrentMedia, Self: true, Endpoints: eps})
		}
		return
	}
	s.mu.Lock()
	if !s.roomForLocked(pp) {
		s.mu.Unlock()
		return
	}
	c := s.contactLocked(pp)
	changed := c.psm() != d.PSM || c.media() != d.CurrentMedia || c.epKey != epKey
	c.setProfile(d.PSM, d.CurrentMedia)
	c.epKey = epKey
	var name string
	if changed {
		name = c.publicName()
	}
	s.mu.Unlock()
	if changed {
		s.emit(&ProfileEvent{Passport: pp, FriendlyName: name, PersonalMessage: d.PSM, CurrentMedia: d.CurrentMedia, Endpoints: eps})
	}
}

// onSyncLine handles LST/LSG/BPR of a SYN in progress.
func (s *Session) onSyncLine(cmd *wire.Command) {
	v := s.Version()
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.sync
	if st == nil || st.finished {
		s.logger().Debug().Stringer("cmd", cmd).Msg("list line outside SYN ignored")
		return
	}
	switch cmd.Name {
	case "LSG":
		g, err := parseLSG(v, cmd)
		if err != nil {
			s.logger().Debug().Err(err).Stringer("cmd", cmd).Msg("bad LSG")
		} else if s.roomForGroupLocked(g.ID) {
			s.groups[g.ID] = g.Name
		}
		st.seenLSG++
	case "LST":
		e, err := parseLST(v, cmd)
		if err != nil {
			s.logger().Debug().Err(err).Stringer("cmd", cmd).Msg("bad LST")
		} else if e.Passport != "" && s.roomForLocked(e.Passport) {
			c := s.contactLocked(e.Passport)
			c.lists |= e.Lists
			if e.FriendlyName != "" {
				c.name = e.FriendlyName
			}
			if e.ContactID != "" {
				c.setContactID(e.ContactID)
			}
			if e.Lists&FL != 0 && e.Groups != nil {
				c.setGroups(e.Groups)
			}
		}
		st.seenLST++
		if v <= 7 && e.List == "RL" && (e.Count == 0 || e.Index >= e.Count) {
			s.finishSyncLocked()
			return
		}
	}
	s.checkSyncLocked(v)
}

func (s *Session) onSYN(cmd *wire.Command) {
	v := s.Version()
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.sync
	if st == nil || cmd.TrID != st.trid {
		return
	}
	st.gotReply = true
	a := cmd.Args
	switch {
	case v <= 7:
		// Completion is the end of the RL list, unless the server says our (empty) version
		// is current, in which case no list follows.
		if a0 := cmd.Arg(0); a0 == "" || a0 == "0" {
			s.finishSyncLocked()
		}
		return
	case v <= 9:
		// SYN t ver [ncontacts ngroups]; no counts = list unchanged
		if len(a) < 3 {
			s.finishSyncLocked()
			return
		}
		st.nContacts, _ = strconv.Atoi(a[1])
		st.nGroups, _ = strconv.Atoi(a[2])
	default:
		if len(a) < 4 {
			s.finishSyncLocked()
			return
		}
		st.nContacts, _ = strconv.Atoi(a[2])
		st.nGroups, _ = strconv.Atoi(a[3])
	}
	s.checkSyncLocked(v)
}

func (s *Session) checkSyncLocked(v int) {
	st := s.sync
	if v >= 8 && st.gotReply && st.seenLST >= st.nContacts && st.seenLSG >= st.nGroups {
		s.finishSyncLocked()
	}
}

func (s *Session) finishSyncLocked() {
	if st := s.sync; st != nil && !st.finished {
		st.finished = true
		close(st.done)
	}
}

func (s *Session) onPRP(cmd *wire.Command) {
	// PRP MFN name (sync / async) or PRP t MFN name (reply)
	if cmd.Arg(0) == "MFN" && len(cmd.Args) >= 2 {
		s.mu.Lock()
		s.name = decodeName(cmd.Args[1])
		s.mu.Unlock()
	}
}

// onListPush handles ADD/ADC/REM with TrID 0: someone added or removed us.
func (s *Session) onListPush(cmd *wire.Command) {
	if cmd.Arg(0) != "RL" {
		s.logger().Debug().Stringer("cmd", cmd).Msg("list change pushed by the server ignored")
		return
	}
	var pp, name string
	switch cmd.Name {
	case "ADD": // ADD 0 RL ser email friendly
		pp, name = strings.ToLower(cmd.Arg(2)), decodeName(cmd.Arg(3))
	case "ADC": // ADC 0 RL N=email F=friendly
		for _, a := range cmd.Args[1:] {
			if strings.HasPrefix(a, "N=") {
				pp = strings.ToLower(a[2:])
			} else if strings.HasPrefix(a, "F=") {
				name = decodeName(a[2:])
			}
		}
	case "REM": // REM 0 RL [ser] email
		pp = strings.ToLower(cmd.Args[len(cmd.Args)-1])
	}
	if checkPassport(pp) != nil {
		s.logger().Debug().Stringer("cmd", cmd).Msg("bad list push")
		return
	}
	if name == "" {
		name = pp
	}
	s.rlChange(pp, name, cmd.Name != "REM")
}

func (s *Session) rlChange(pp, name string, added bool) {
	s.mu.Lock()
	if !s.roomForLocked(pp) {
		s.mu.Unlock()
		return
	}
	c := s.contactLocked(pp)
	if added {
		c.lists |= RL
		if c.lists&FL == 0 && name != "" {
			c.name = name
		}
	} else {
		c.lists &^= RL
	}
	s.mu.Unlock()
	if added {
		s.emit(&ListChangeEvent{Passport: pp, Added: RL})
		s.emit(&AddedByEvent{Passport: pp, FriendlyName: name})
	} else {
		s.emit(&ListChangeEvent{Passport: pp, Removed: RL})
		s.emit(&RemovedByEvent{Passport: pp})
	}
}

// onMLPush handles ADL 0 / RML 0 (MSNP13+): l=8 means someone added / removed us.
func (s *Session) onMLPush(cmd *wire.Command) {
	entries, err := parseML(cmd.Payload)
	if err != nil {
		s.logger().Debug().Err(err).Stringer("cmd", cmd).Msg("bad ADL/RML push")
		return
	}
	for _, e := range entries {
		if e.Lists&(RL|PL) == 0 {
			continue
		}
		s.rlChange(e.Passport, e.FriendlyName, cmd.Name == "ADL")
	}
}

func (s *Session) onRNG(cmd *wire.Command) {
	// RNG sessid addr CKI cookie inviter friendly [U host] [1]
	a := cmd.Args
	if len(a) < 6 {
		s.logger().Debug().Stringer("cmd", cmd).Msg("bad RNG")
		return
	}
	_, inviter, _ := splitNetwork(a[4])
	s.emit(&SwitchboardInviteEvent{SessionID: a[0], Addr: a[1], Cookie: a[3], Inviter: inviter, InviterName: decodeName(a[5])})
}

func (s *Session) onMSG(cmd *wire.Command) {
	if cmd.Arg(0) != "Hotmail" {
		s.logger().Debug().Stringer("cmd", cmd).Msg("NS message not from Hotmail ignored")
		return
	}
	m, err := parseMIME(cmd.Payload)
	if err != nil {
		s.logger().Debug().Err(err).Msg("bad NS message")
		return
	}
	switch m.contentType() {
	case "text/x-msmsgsprofile":
		s.mu.Lock()
		s.mspauth = s.sharedMSPAuthLocked(m.Headers["mspauth"])
		s.mu.Unlock()
	case "text/x-msmsgsinitialmdatanotification":
		s.emit(&MailDataEvent{Payload: bytes.Clone(cmd.Payload), Initial: true})
	case "text/x-msmsgsoimnotification":
		s.emit(&OfflineMessageNotifyEvent{Payload: bytes.Clone(cmd.Payload)})
	case "application/x-msmsgssystemmessage":
		body, err := parseMIME(m.Body)
		typ, arg := m.Headers["type"], m.Headers["arg1"]
		if err == nil && typ == "" {
			typ, arg = body.Headers["type"], body.Headers["arg1"]
		}
		s.emit(&SystemMessageEvent{Type: typ, Arg: arg})
	default:
		s.logger().Debug().Str("content_type", m.contentType()).Msg("NS message ignored")
	}
}

func (s *Session) onCHL(cmd *wire.Command) {
	chl := cmd.Arg(0)
	if chl == "" {
		return
	}
	id, answer := s.ChallengeAnswer(chl)
	q := wire.NewPayload("QRY", s.nextTrID(), []byte(answer), id)
	go func() {
		if err := s.send(q); err != nil {
			s.logger().Warn().Err(err).Msg("answering CHL failed")
		}
	}()
}

func (s *Session) onOUT(cmd *wire.Command) {
	var err error
	switch reason := cmd.Arg(0); reason {
	case "OTH":
		err = ErrSignedInElsewhere
	case "SSD":
		err = ErrServerShutdown
	case "":
		err = &DisconnectError{Reason: "server logged us out"}
	case "RCT":
		err = &DisconnectError{Reason: "server closed temporarily (" + strings.Join(cmd.Args, " ") + ")", RetryAfter: rctDelay(cmd.Arg(1))}
	default:
		err = &DisconnectError{Reason: "server logged us out (" + strings.Join(cmd.Args, " ") + ")"}
	}
	s.fail(err)
}

// onUBN handles remote sign-out requests; it reports whether the session ended.
func (s *Session) onUBN(cmd *wire.Command) bool {
	if _, who, _ := splitNetwork(strings.SplitN(cmd.Arg(0), ";", 2)[0]); !s.isSelf(who) {
		return false
	}
	p := cmd.Payload
	if bytes.HasPrefix(p, []byte("goawyplzthxbye")) || (cmd.Arg(1) == "8" && bytes.HasPrefix(p, []byte("gtfo"))) {
		s.fail(&DisconnectError{Reason: "signed out remotely (" + string(truncateBytes(p, 32)) + ")"})
		return true
	}
	return false
}

func truncateBytes(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}
