package sb

import (
	"strings"
	"unicode/utf8"
)

// Bounds on what one switchboard's roster may hold, whatever the server sends.
const (
	maxParticipants = 128
	maxEndpoints    = 16
	maxPassportLen  = 129
)

// Participant is one other person in a conversation.
type Participant struct {
	// Passport is the contact's e-mail address in lower case, without an endpoint GUID.
	Passport string
	// FriendlyName is the name the switchboard reported at join time (URL-decoded).
	FriendlyName string
	// Caps is the capability field as sent ("1073741824" or MSNP16+ "caps:capsex"); may be "".
	Caps string
}

// rosterEntry is a participant with the MSNP16+ endpoints seen for them.
type rosterEntry struct {
	Participant
	endpoints map[string]struct{}
}

// roster folds JOI/IRO/BYE lines into one participant per passport: MSNP16+ sends each user
// once per endpoint ("email;{guid}") and once bare, and the last endpoint's BYE may come
// without a bare one.
type roster struct {
	order []string
	m     map[string]*rosterEntry
}

// splitID splits "email;{guid}" into the lower-case passport and guid ("" when absent).
func splitID(id string) (passport, guid string) {
	passport, guid, _ = strings.Cut(id, ";")
	return strings.ToLower(passport), strings.ToLower(guid)
}

// validPassport accepts what can be a passport: non-empty, bounded, printable, no spaces.
func validPassport(p string) bool {
	if p == "" || len(p) > maxPassportLen || !utf8.ValidString(p) {
		return false
	}
	for _, r := range p {
		if r <= ' ' || r == 0x7f || r == ';' {
			return false
		}
	}
	return true
}

// add records a JOI/IRO entry and reports whether the passport is new to the roster.
func (r *roster) add(passport, guid, name, caps string) (Participant, bool) {
	if r.m == nil {
		r.m = make(map[string]*rosterEntry)
	}
	if e, ok := r.m[passport]; ok {
		if guid != "" && len(e.endpoints) < maxEndpoints {
			e.endpoints[guid] = struct{}{}
		}
		if e.Caps == "" {
			e.Caps = caps
		}
		return e.Participant, false
	}
	if len(r.m) >= maxParticipants {
		return Participant{}, false
	}
	e := &rosterEntry{Participant: Participant{Passport: passport, FriendlyName: name, Caps: caps}, endpoints: map[string]struct{}{}}
	if guid != "" {
		e.endpoints[guid] = struct{}{}
	}
	r.m[passport] = e
	r.order = append(r.order, passport)
	return e.Participant, true
}

// remove records a BYE and reports whether the participant is now gone. A BYE for one
// endpoint removes the participant only when it was their last known endpoint.
func (r *roster) remove(passport, guid string) bool {
	e, ok := r.m[passport]
	if !ok {
		return false
	}
	if guid != "" {
		delete(e.endpoints, guid)
		if len(e.endpoints) > 0 {
			return false
		}
	}
	delete(r.m, passport)
	for i, p := range r.order {
		if p == passport {
			r.order = append(r.order[:i], r.order[i+1:]...)
			break
		}
	}
	return true
}

// list returns the participants in join order.
func (r *roster) list() []Participant {
	out := make([]Participant, 0, len(r.order))
	for _, p := range r.order {
		out = append(out, r.m[p].Participant)
	}
	return out
}

func (r *roster) len() int { return len(r.m) }

func (r *roster) has(passport string) bool {
	_, ok := r.m[passport]
	return ok
}
