package ns

import (
	"encoding/hex"
	"strings"
)

// contact is the session's record of one contact; Contact is the snapshot handed out. A
// session keeps one record per contact for its whole life, so the record is laid out small
// (120 bytes; the records of the login's contact list share one slab): the status is a byte,
// the personal message and media (often empty) sit behind a pointer, and the address-book
// contact id, a GUID, is kept as its 16 bytes instead of a 36-character string.
type contact struct {
	passport string
	name     string // friendly name
	msnobj   string
	caps     string
	profile  *contactProfile // nil while both are empty
	groups   *[]string       // group ids; nil when none
	guid     [16]byte        // the contact id when it is a lower-case GUID (idIsGUID)
	idText   string          // the contact id otherwise
	epKey    uint32          // digest of the endpoints of the last UBX (endpointsKey)
	lists    ListBits
	status   statusCode
	idIsGUID bool
}

// publicName is the friendly name to hand out: a copy (see snapshot).
func (c *contact) publicName() string { return strings.Clone(c.name) }

// setName sets the friendly name, keeping the current string when the name is unchanged (the
// initial presence repeats the address book's names; the copies stay in the session's block).
func (c *contact) setName(name string) {
	if c.name != name {
		c.name = name
	}
}

// contactProfile is a contact's personal message and current media.
type contactProfile struct{ psm, media string }

// statusCode is a Status in one byte: an index into statusCodes (0 is Offline).
type statusCode uint8

var statusCodes = [...]Status{Offline, Online, Busy, Idle, BeRightBack, Away, OnThePhone, OutToLunch, Hidden}

// codeOf returns the code of st; a status outside the list (never one parsed, see
// validStatus) is kept as Online, the nearest meaning of "present in some state".
func codeOf(st Status) statusCode {
	for i, x := range statusCodes {
		if x == st {
			return statusCode(i)
		}
	}
	return 1
}

func (c *contact) currentStatus() Status { return statusCodes[c.status] }
func (c *contact) setStatus(st Status)   { c.status = codeOf(st) }
func (c *contact) psm() string           { return c.profileOrZero().psm }
func (c *contact) media() string         { return c.profileOrZero().media }
func (c *contact) setGroups(ids []string) {
	c.groups = nil
	if len(ids) > 0 {
		c.groups = &ids
	}
}

func (c *contact) profileOrZero() contactProfile {
	if c.profile == nil {
		return contactProfile{}
	}
	return *c.profile
}

// setProfile sets the personal message and media (strings of their own, not of a command).
func (c *contact) setProfile(psm, media string) {
	switch {
	case psm == "" && media == "":
		c.profile = nil
	case c.profile == nil || c.profile.psm != psm || c.profile.media != media:
		c.profile = &contactProfile{psm: psm, media: media}
	}
}

// contactID returns the address-book contact id ("" when none).
func (c *contact) contactID() string {
	if !c.idIsGUID {
		return c.idText
	}
	var b [36]byte
	hex.Encode(b[0:8], c.guid[0:4])
	b[8] = '-'
	hex.Encode(b[9:13], c.guid[4:6])
	b[13] = '-'
	hex.Encode(b[14:18], c.guid[6:8])
	b[18] = '-'
	hex.Encode(b[19:23], c.guid[8:10])
	b[23] = '-'
	hex.Encode(b[24:36], c.guid[10:16])
	return string(b[:])
}

// setContactID keeps id: as 16 bytes when it is a lower-case GUID (what contactID gives back
// exactly), else as a copy.
func (c *contact) setContactID(id string) {
	if g, ok := parseGUID(id); ok {
		c.guid, c.idIsGUID, c.idText = g, true, ""
		return
	}
	c.guid, c.idIsGUID, c.idText = [16]byte{}, false, strings.Clone(id)
}

// parseGUID parses a lower-case "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx".
func parseGUID(s string) (g [16]byte, ok bool) {
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return g, false
	}
	hexPart := s[0:8] + s[9:13] + s[14:18] + s[19:23] + s[24:36]
	for j := range g {
		hi, ok1 := lowerHex(hexPart[2*j])
		lo, ok2 := lowerHex(hexPart[2*j+1])
		if !ok1 || !ok2 {
			return g, false
		}
		g[j] = hi<<4 | lo
	}
	return g, true
}

func lowerHex(b byte) (byte, bool) {
	switch {
	case b >= '0' && b <= '9':
		return b - '0', true
	case b >= 'a' && b <= 'f':
		return b - 'a' + 10, true
	}
	return 0, false
}

// snapshot is the Contact handed out for c: its own copies of the passport, the name (they
// may be part of the session's string block, compactContactsLocked) and the group list.
func (c *contact) snapshot() Contact {
	out := Contact{
		Passport: strings.Clone(c.passport), FriendlyName: c.publicName(), MSNObject: c.msnobj, ContactID: c.contactID(),
		Lists: c.lists, Status: c.currentStatus(), Caps: c.caps,
	}
	if c.profile != nil {
		out.PersonalMessage, out.CurrentMedia = c.profile.psm, c.profile.media
	}
	if c.groups != nil {
		out.Groups = append([]string(nil), *c.groups...)
	}
	return out
}
