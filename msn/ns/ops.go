package ns

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/msnbridge/msnbridge/msn/abch"
	"github.com/msnbridge/msnbridge/msn/auth"
	"github.com/msnbridge/msnbridge/msn/message"
	"github.com/msnbridge/msnbridge/msn/wire"
)

// Client capabilities advertised per version: the MSNC version of the era plus chunking
// (0x20) and GIF ink (0x04: contacts send handwriting as image/gif, which the library
// decodes; never ISF ink, 0x08); no P2Pv2 (capsex 0x20) since the library speaks P2Pv1 only.
func capsFor(v int) string {
	const (
		capInkGIF   = 0x04
		capChunking = 0x20
	)
	var msnc uint32
	switch {
	case v <= 8:
		msnc = 0
	case v == 9:
		msnc = 0x10000000
	case v == 10:
		msnc = 0x20000000
	case v == 11:
		msnc = 0x40000000
	case v == 12:
		msnc = 0x50000000
	case v <= 14:
		msnc = 0x60000000
	case v == 15:
		msnc = 0x70000000
	default:
		msnc = 0xA0000000
	}
	caps := fmt.Sprint(msnc | capChunking | capInkGIF)
	if v >= 16 {
		// capsex: offline IM (0x100) and nudges (0x400)
		return caps + ":" + fmt.Sprint(0x100|0x400)
	}
	return caps
}

// chgArgs builds the CHG arguments: status, capabilities from MSNP8, the URL-encoded
// MSNObject (or "0" for none) from MSNP9.
func chgArgs(v int, st Status, msnobj string) []string {
	switch {
	case v <= 7:
		return []string{string(st)}
	case v == 8:
		return []string{string(st), capsFor(v)}
	default:
		obj := "0"
		if msnobj != "" {
			obj = wire.EncodeParam(msnobj)
		}
		return []string{string(st), capsFor(v), obj}
	}
}

func (s *Session) changeStatus(ctx context.Context, st Status) error {
	s.mu.Lock()
	obj := s.msnobj
	s.mu.Unlock()
	return s.changeStatusWith(ctx, st, obj)
}

// changeStatusWith sends CHG with st and msnobj and records both once the server echoes it.
func (s *Session) changeStatusWith(ctx context.Context, st Status, msnobj string) error {
	if st == Offline || !validStatus(string(st)) {
		return fmt.Errorf("msn: cannot set status %q (use Close to go offline)", st)
	}
	if _, err := s.request(ctx, wire.New("CHG", 0, chgArgs(s.Version(), st, msnobj)...), "CHG"); err != nil {
		return err
	}
	s.mu.Lock()
	s.status = st
	s.msnobj = msnobj
	s.mu.Unlock()
	return nil
}

// maxMSNObject bounds our own MSNObject after URL-encoding (it travels on the CHG line and on
// every contact's NLN/ILN line).
const maxMSNObject = 2048

// SetMSNObject sets our own MSNObject (the "<msnobj …/>" XML describing a display picture),
// or clears it with "": it is sent with CHG and the current status, MSNP9 and later
// (ErrNotSupported before). Contacts see it in our presence.
func (s *Session) SetMSNObject(ctx context.Context, msnobj string) error {
	v := s.Version()
	if v < 9 {
		return fmt.Errorf("msn: MSNObject on MSNP%d: %w", v, ErrNotSupported)
	}
	if msnobj != "" && (!strings.HasPrefix(msnobj, "<msnobj") || len(wire.EncodeParam(msnobj)) > maxMSNObject) {
		return fmt.Errorf("msn: MSNObject must be an <msnobj …/> element of at most %d bytes URL-encoded", maxMSNObject)
	}
	return s.changeStatusWith(ctx, s.Status(), msnobj)
}

// MSNObject returns our own MSNObject as last accepted by the server ("" for none).
func (s *Session) MSNObject() string { s.mu.Lock(); defer s.mu.Unlock(); return s.msnobj }

// SetStatus changes our presence status (CHG with the version's capabilities).
func (s *Session) SetStatus(ctx context.Context, st Status) error {
	return s.changeStatus(ctx, st)
}

// SetFriendlyName changes our friendly name: REA up to MSNP9, PRP MFN from MSNP10.
func (s *Session) SetFriendlyName(ctx context.Context, name string) error {
	enc := wire.EncodeParam(name)
	if name == "" || len(enc) > 387 {
		return fmt.Errorf("msn: friendly name must be 1…387 bytes URL-encoded, got %d", len(enc))
	}
	var cmd *wire.Command
	if s.Version() <= 9 {
		cmd = wire.New("REA", 0, s.passport, enc)
	} else {
		cmd = wire.New("PRP", 0, "MFN", enc)
	}
	if _, err := s.request(ctx, cmd, cmd.Name); err != nil {
		return err
	}
	s.mu.Lock()
	s.name = name
	psm := s.psm
	s.mu.Unlock()
	s.emit(&ProfileEvent{Passport: s.passport, FriendlyName: name, PersonalMessage: psm, Self: true})
	return nil
}

// SetPersonalMessage changes our personal message (UUX, MSNP11+); ErrNotSupported below.
func (s *Session) SetPersonalMessage(ctx context.Context, psm string) error {
	v := s.Version()
	if v < 11 {
		return fmt.Errorf("msn: personal message on MSNP%d: %w", v, ErrNotSupported)
	}
	var b strings.Builder
	b.WriteString("<Data><PSM>")
	b.WriteString(xmlText(psm))
	b.WriteString("</PSM><CurrentMedia></CurrentMedia>")
	if v >= 16 {
		b.WriteString("<MachineGuid>" + xmlText(s.machineGUIDFor()) + "</MachineGuid>")
	}
	b.WriteString("</Data>")
	if len(psm) > 1024 {
		return fmt.Errorf("msn: personal message longer than 1024 bytes")
	}
	if _, err := s.request(ctx, wire.NewPayload("UUX", 0, []byte(b.String())), "UUX"); err != nil {
		return err
	}
	s.mu.Lock()
	s.psm = psm
	name := s.name
	s.mu.Unlock()
	s.emit(&ProfileEvent{Passport: s.passport, FriendlyName: name, PersonalMessage: psm, Self: true})
	return nil
}

func normPassport(p string) (string, error) {
	p = strings.ToLower(strings.TrimSpace(p))
	if err := checkPassport(p); err != nil || !strings.Contains(p, "@") {
		return "", fmt.Errorf("msn: invalid passport %q", truncate(p, 64))
	}
	return p, nil
}

// addToList adds passport to one list (FL, AL or BL) by the version's means (ADD/ADC/ADL);
// for MSNP13+ the ABCH side is the caller's job.
func (s *Session) addToList(ctx context.Context, pp string, list ListBits) error {
	v := s.Version()
	name := listName(list)
	var err error
	switch {
	case v <= 9:
		var r *wire.Command
		r, err = s.request(ctx, wire.New("ADD", 0, name, pp, pp), "ADD")
		if err == nil && list == FL && len(r.Args) >= 4 {
			s.mu.Lock()
			s.contactLocked(pp).name = decodeName(r.Args[3])
			s.mu.Unlock()
		}
	case v <= 12:
		args := []string{name, "N=" + pp}
		if list == FL {
			args = append(args, "F="+pp)
		}
		var r *wire.Command
		r, err = s.request(ctx, wire.New("ADC", 0, args...), "ADC")
		if err == nil {
			s.mu.Lock()
			c := s.contactLocked(pp)
			for _, a := range r.Args {
				if id, ok := strings.CutPrefix(a, "C="); ok {
					c.setContactID(id)
				} else if f, ok := strings.CutPrefix(a, "F="); ok {
					c.name = decodeName(f)
				}
			}
			s.mu.Unlock()
		}
	default:
		err = s.sendML(ctx, "ADL", pp, list)
	}
	if wire.ErrorCode(err) == wire.ErrAlreadyInList {
		err = nil
	}
	if err != nil {
		return err
	}
	s.setBits(pp, list, 0)
	return nil
}

func (s *Session) removeFromList(ctx context.Context, pp string, list ListBits) error {
	v := s.Version()
	var err error
	switch {
	case v <= 9:
		_, err = s.request(ctx, wire.New("REM", 0, listName(list), pp), "REM")
	case v <= 12:
		id := pp
		if list == FL {
			if c, ok := s.Contact(pp); ok && c.ContactID != "" {
				id = c.ContactID
			}
		}
		_, err = s.request(ctx, wire.New("REM", 0, listName(list), id), "REM")
	default:
		err = s.sendML(ctx, "RML", pp, list)
	}
	if wire.ErrorCode(err) == wire.ErrNotInList {
		err = nil
	}
	if err != nil {
		return err
	}
	s.setBits(pp, 0, list)
	return nil
}

func (s *Session) sendML(ctx context.Context, name, pp string, list ListBits) error {
	payloads := buildML([]mlContact{{Passport: pp, Lists: list, Network: 1}}, false, adlSplitBytes)
	for _, p := range payloads {
		if _, err := s.request(ctx, wire.NewPayload(name, 0, p), name); err != nil {
			return err
		}
	}
	return nil
}

func (s *Session) setBits(pp string, add, remove ListBits) {
	s.mu.Lock()
	c := s.contactLocked(pp)
	c.lists = (c.lists | add) &^ remove
	s.mu.Unlock()
	s.emit(&ListChangeEvent{Passport: pp, Added: add, Removed: remove})
}

func (s *Session) abchEra() bool { return s.Version() >= 13 }

// AddContact adds passport to the forward and allow lists (ABCH + ADL from MSNP13).
func (s *Session) AddContact(ctx context.Context, passport string) error {
	pp, err := normPassport(passport)
	if err != nil {
		return err
	}
	if s.abchEra() {
		id, err := s.abchClient().AddContact(ctx, pp)
		var fault *abch.Fault
		if err != nil && !(errors.As(err, &fault) && strings.EqualFold(fault.ErrorCode, "ContactAlreadyExists")) {
			return fmt.Errorf("msn: add contact: %w", err)
		}
		if id != "" {
			s.mu.Lock()
			s.contactLocked(pp).setContactID(id)
			s.mu.Unlock()
		}
		return s.addToList(ctx, pp, FL|AL)
	}
	if err := s.addToList(ctx, pp, FL); err != nil {
		return fmt.Errorf("msn: add contact: %w", err)
	}
	if c, _ := s.Contact(pp); c.Lists&BL == 0 {
		if err := s.addToList(ctx, pp, AL); err != nil {
			return fmt.Errorf("msn: allow contact: %w", err)
		}
	}
	return nil
}

// RemoveContact removes passport from the forward list (and the address book from MSNP13).
func (s *Session) RemoveContact(ctx context.Context, passport string) error {
	pp, err := normPassport(passport)
	if err != nil {
		return err
	}
	if s.abchEra() {
		if c, ok := s.Contact(pp); ok && c.ContactID != "" {
			err := s.abchClient().DeleteContact(ctx, c.ContactID)
			var fault *abch.Fault
			if err != nil && !(errors.As(err, &fault) && strings.EqualFold(fault.ErrorCode, "ContactDoesNotExist")) {
				return fmt.Errorf("msn: remove contact from address book: %w", err)
			}
		}
	}
	if err := s.removeFromList(ctx, pp, FL); err != nil {
		return fmt.Errorf("msn: remove contact: %w", err)
	}
	return nil
}

// Block moves passport from the allow to the block list.
func (s *Session) Block(ctx context.Context, passport string) error {
	pp, err := normPassport(passport)
	if err != nil {
		return err
	}
	if s.abchEra() {
		ab := s.abchClient()
		_ = ab.DeleteMember(ctx, abch.RoleAllow, pp, "BlockUnblock")
		if err := ab.AddMember(ctx, abch.RoleBlock, pp, "BlockUnblock"); err != nil {
			return fmt.Errorf("msn: block: %w", err)
		}
	}
	if err := s.removeFromList(ctx, pp, AL); err != nil {
		return fmt.Errorf("msn: block: %w", err)
	}
	if err := s.addToList(ctx, pp, BL); err != nil {
		return fmt.Errorf("msn: block: %w", err)
	}
	return nil
}

// Unblock moves passport from the block to the allow list.
func (s *Session) Unblock(ctx context.Context, passport string) error {
	pp, err := normPassport(passport)
	if err != nil {
		return err
	}
	if s.abchEra() {
		ab := s.abchClient()
		_ = ab.DeleteMember(ctx, abch.RoleBlock, pp, "BlockUnblock")
		if err := ab.AddMember(ctx, abch.RoleAllow, pp, "BlockUnblock"); err != nil {
			return fmt.Errorf("msn: unblock: %w", err)
		}
	}
	if err := s.removeFromList(ctx, pp, BL); err != nil {
		return fmt.Errorf("msn: unblock: %w", err)
	}
	if err := s.addToList(ctx, pp, AL); err != nil {
		return fmt.Errorf("msn: unblock: %w", err)
	}
	return nil
}

// AcceptAddedBy allows someone who added us and, with addBack, adds them to the forward list.
func (s *Session) AcceptAddedBy(ctx context.Context, passport string, addBack bool) error {
	pp, err := normPassport(passport)
	if err != nil {
		return err
	}
	if s.abchEra() {
		ab := s.abchClient()
		if err := ab.AddMember(ctx, abch.RoleAllow, pp, "ContactMsgrAPI"); err != nil {
			return fmt.Errorf("msn: accept: %w", err)
		}
		_ = ab.DeleteMember(ctx, abch.RolePending, pp, "ContactMsgrAPI")
		s.setBits(pp, 0, PL)
		if addBack {
			return s.AddContact(ctx, pp)
		}
		return s.addToList(ctx, pp, AL)
	}
	if err := s.addToList(ctx, pp, AL); err != nil {
		return fmt.Errorf("msn: accept: %w", err)
	}
	if addBack {
		if err := s.addToList(ctx, pp, FL); err != nil {
			return fmt.Errorf("msn: add back: %w", err)
		}
	}
	return nil
}

// IgnoreAddedBy acknowledges an add without allowing: the contact goes on the block list.
func (s *Session) IgnoreAddedBy(ctx context.Context, passport string) error {
	pp, err := normPassport(passport)
	if err != nil {
		return err
	}
	if s.abchEra() {
		ab := s.abchClient()
		if err := ab.AddMember(ctx, abch.RoleBlock, pp, "ContactMsgrAPI"); err != nil {
			return fmt.Errorf("msn: ignore: %w", err)
		}
		_ = ab.DeleteMember(ctx, abch.RolePending, pp, "ContactMsgrAPI")
		s.setBits(pp, 0, PL)
	}
	return s.addToList(ctx, pp, BL)
}

// RequestSwitchboard asks for a new switchboard session (XFR SB). While appearing offline on
// MSNP ≤ 12 the server refuses with error 913: errors.Is(err, ErrNotAllowedWhileHidden) and
// errors.Is(err, &wire.ServerError{Code: 913}) both hold.
func (s *Session) RequestSwitchboard(ctx context.Context) (SwitchboardTicket, error) {
	r, err := s.request(ctx, wire.New("XFR", 0, "SB"), "XFR")
	if wire.ErrorCode(err) == wire.ErrNotAllowedWhileHDN {
		return SwitchboardTicket{}, fmt.Errorf("%w: %w", ErrNotAllowedWhileHidden, err)
	}
	if err != nil {
		return SwitchboardTicket{}, err
	}
	// XFR t SB addr CKI cookie [U host] [1]
	if r.Arg(0) != "SB" || r.Arg(1) == "" || r.Arg(3) == "" {
		return SwitchboardTicket{}, fmt.Errorf("msn: malformed XFR SB reply")
	}
	return SwitchboardTicket{Addr: r.Arg(1), Cookie: r.Arg(3)}, nil
}

// maxUUMPayload bounds one UUM payload: the switchboard MSG limit (FACTS §1.3), the largest
// message the revival server is known to take from a client.
const maxUUMPayload = 1664

// SendOfflineText sends a text to an offline contact with UUM (MSNP18). A text longer than one
// UUM carries is sent as several, in order, each cut on a character boundary
// (message.OfflineTextPayloads); the contact receives them as consecutive offline messages.
// The revival server sends no reply to UUM, so success means every command was written
// (waiting would only ever time out); an error reply that arrives later is logged. When a
// write fails after some parts went out, the error says how many.
func (s *Session) SendOfflineText(ctx context.Context, to, text string) error {
	if v := s.Version(); v < 18 {
		return fmt.Errorf("msn: UUM on MSNP%d: %w", v, ErrNotSupported)
	}
	pp, err := normPassport(to)
	if err != nil {
		return err
	}
	payloads, err := message.OfflineTextPayloads(text, maxUUMPayload)
	if err != nil {
		return fmt.Errorf("msn: offline text of %d bytes: %w", len(text), err)
	}
	if len(payloads) == 0 {
		return errors.New("msn: empty offline text")
	}
	s.uumMu.Lock()
	defer s.uumMu.Unlock()
	for i, p := range payloads {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("msn: UUM: sent %d of %d parts: %w", i, len(payloads), err)
		}
		select {
		case <-s.done:
			return fmt.Errorf("msn: UUM: sent %d of %d parts: %w", i, len(payloads), s.closedError())
		default:
		}
		cmd := wire.NewPayload("UUM", s.nextTrID(), p, pp, "1", "1")
		if err := s.send(cmd); err != nil {
			return fmt.Errorf("msn: send UUM (part %d of %d): %w", i+1, len(payloads), err)
		}
	}
	return nil
}

func challengeResponse(v int, chl string) (string, string) {
	return auth.ChallengeResponse(v, chl)
}
