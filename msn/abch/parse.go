package abch

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Responses are read with a streaming walker over encoding/xml tokens: element names are
// matched by local name and case-insensitively (ABFindAll says <contacts>, ABFindContactsPaged
// <Contacts>), every contact, group and member is counted as it is decoded, and nesting is
// bounded.

// maxDepth bounds element nesting outside the small records decoded as a whole.
const maxDepth = 64

// maxTextLen bounds the character data read for one simple element.
const maxTextLen = 64 << 10

type walker struct {
	dec   *xml.Decoder
	stack []string // local names of the open elements
}

// visitFunc is called for each start element. It returns handled=true when it consumed the
// whole element (through DecodeElement, text or sub).
type visitFunc func(w *walker, se xml.StartElement) (handled bool, err error)

func newWalker(data []byte) *walker {
	d := xml.NewDecoder(bytes.NewReader(data))
	d.Strict = true
	return &walker{dec: d}
}

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}

// parent returns the local name of the innermost open element.
func (w *walker) parent() string {
	if len(w.stack) == 0 {
		return ""
	}
	return w.stack[len(w.stack)-1]
}

// under reports whether the innermost open elements are names (outermost first).
func (w *walker) under(names ...string) bool {
	if len(names) > len(w.stack) {
		return false
	}
	tail := w.stack[len(w.stack)-len(names):]
	for i, n := range names {
		if !strings.EqualFold(tail[i], n) {
			return false
		}
	}
	return true
}

// run reads tokens until the end of the element open when it was called (or the end of the
// document when none was), calling visit for every start element.
func (w *walker) run(visit visitFunc) error {
	base := len(w.stack)
	for {
		tok, err := w.dec.Token()
		if errors.Is(err, io.EOF) {
			if base == 0 && len(w.stack) == 0 {
				return nil
			}
			return malformed("unexpected end of document")
		}
		if err != nil {
			return malformed("%v", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if len(w.stack) >= maxDepth {
				return malformed("elements nested deeper than %d", maxDepth)
			}
			handled, err := visit(w, t)
			if err != nil {
				return err
			}
			if !handled {
				w.stack = append(w.stack, t.Name.Local)
			}
		case xml.EndElement:
			if len(w.stack) == base {
				return nil
			}
			w.stack = w.stack[:len(w.stack)-1]
		}
	}
}

// sub walks the children of se, which visit has just been handed.
func (w *walker) sub(se xml.StartElement, visit visitFunc) error {
	w.stack = append(w.stack, se.Name.Local)
	if err := w.run(visit); err != nil {
		return err
	}
	w.stack = w.stack[:len(w.stack)-1]
	return nil
}

// text returns the character data directly inside se (nested elements are skipped),
// trimmed.
func (w *walker) text(se xml.StartElement) (string, error) {
	var b strings.Builder
	depth := 0
	for {
		tok, err := w.dec.Token()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return "", malformed("unexpected end of document in <%s>", se.Name.Local)
			}
			return "", malformed("%v", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
		case xml.EndElement:
			if depth == 0 {
				return strings.TrimSpace(b.String()), nil
			}
			depth--
		case xml.CharData:
			if depth == 0 {
				if b.Len()+len(t) > maxTextLen {
					return "", malformed("text of <%s> longer than %d bytes", se.Name.Local, maxTextLen)
				}
				b.Write(t)
			}
		}
	}
}

// skip consumes the rest of the element whose start was just read.
func (w *walker) skip() error {
	if err := w.dec.Skip(); err != nil {
		return malformed("%v", err)
	}
	return nil
}

// decode unmarshals se into v.
func (w *walker) decode(v any, se xml.StartElement) error {
	if err := w.dec.DecodeElement(v, &se); err != nil {
		return malformed("<%s>: %v", se.Name.Local, err)
	}
	return nil
}

// envelope walks a SOAP response: it checks the root is an Envelope, records the
// ServiceHeader and a Body-level Fault, notes whether the Body holds an element named want,
// and hands every other element to visit (which may be nil).
type envelope struct {
	header  serviceHeader
	fault   *Fault
	hasWant bool
	hasBody bool
}

type serviceHeader struct {
	CacheKey          string `xml:"CacheKey"`
	PreferredHostName string `xml:"PreferredHostName"`
}

func walkEnvelope(data []byte, want string, visit visitFunc) (*envelope, error) {
	if isBlank(data) {
		return nil, malformed("empty body")
	}
	env := &envelope{}
	w := newWalker(data)
	sawRoot := false
	err := w.run(func(w *walker, se xml.StartElement) (bool, error) {
		local := se.Name.Local
		switch {
		case len(w.stack) == 0:
			if sawRoot {
				return false, malformed("more than one root element")
			}
			sawRoot = true
			if local != "Envelope" {
				return false, malformed("root element <%s>, want a SOAP Envelope", local)
			}
			return false, nil
		case len(w.stack) == 1:
			if local == "Body" {
				env.hasBody = true
			}
			if local == "Header" || local == "Body" {
				return false, nil
			}
			return true, w.skip()
		case local == "ServiceHeader" && w.under("Envelope", "Header"):
			var h serviceHeader
			if err := w.decode(&h, se); err != nil {
				return true, err
			}
			if len(h.CacheKey) <= maxFieldLen*8 {
				env.header = h
			}
			return true, nil
		case local == "Fault" && w.under("Envelope", "Body"):
			var f xmlFault
			if err := w.decode(&f, se); err != nil {
				return true, err
			}
			env.fault = f.toFault()
			return true, nil
		case want != "" && local == want && w.under("Envelope", "Body"):
			env.hasWant = true
		}
		if visit != nil {
			return visit(w, se)
		}
		return false, nil
	})
	if err != nil {
		return nil, err
	}
	if !sawRoot {
		return nil, malformed("no root element")
	}
	if !env.hasBody {
		return nil, malformed("no SOAP Body")
	}
	return env, nil
}

// result checks a parsed envelope for a fault and for the expected response element.
func (env *envelope) result(want string) error {
	if env.fault != nil {
		return env.fault
	}
	if want != "" && !env.hasWant {
		return malformed("no <%s> in the SOAP Body", want)
	}
	return nil
}

type xmlFault struct {
	Code     string `xml:"faultcode"`
	String   string `xml:"faultstring"`
	Code12   string `xml:"Code>Value"`
	Reason12 string `xml:"Reason>Text"`
	Detail   struct {
		ErrorCode string `xml:"errorcode"`
	} `xml:"detail"`
	Detail12 struct {
		ErrorCode string `xml:"errorcode"`
	} `xml:"Detail"`
}

// Limits on the fault fields kept.
const (
	maxFaultCode   = 256
	maxFaultString = 1024
)

func (x *xmlFault) toFault() *Fault {
	pick := func(a, b string) string {
		if s := strings.TrimSpace(a); s != "" {
			return s
		}
		return strings.TrimSpace(b)
	}
	return &Fault{
		Code:      truncateUTF8(pick(x.Code, x.Code12), maxFaultCode),
		String:    truncateUTF8(pick(x.String, x.Reason12), maxFaultString),
		ErrorCode: truncateUTF8(pick(x.Detail.ErrorCode, x.Detail12.ErrorCode), maxFaultCode),
	}
}

// parseFaultHeader returns the fault (nil when there is none) and the ServiceHeader of a
// SOAP response.
func parseFaultHeader(data []byte) (*Fault, serviceHeader, error) {
	env, err := walkEnvelope(data, "", nil)
	if err != nil {
		return nil, serviceHeader{}, err
	}
	return env.fault, env.header, nil
}

// parseFault returns the fault in a SOAP response, or nil when it has none.
func parseFault(data []byte) (*Fault, error) {
	f, _, err := parseFaultHeader(data)
	return f, err
}

// expectResponse checks that data is a fault-free SOAP response holding element want.
func expectResponse(data []byte, want string) error {
	env, err := walkEnvelope(data, want, nil)
	if err != nil {
		return err
	}
	return env.result(want)
}

// counter enforces MaxEntries across one response.
type counter struct{ n int }

func (c *counter) add() error {
	c.n++
	if c.n > MaxEntries {
		return fmt.Errorf("%w: more than %d", ErrTooManyEntries, MaxEntries)
	}
	return nil
}

func isTrue(s string) bool {
	s = strings.TrimSpace(s)
	return strings.EqualFold(s, "true") || s == "1"
}

// cleanPassport lower-cases a passport from a response and reports whether it is usable.
func cleanPassport(s string) (string, bool) {
	s = strings.ToLower(strings.TrimSpace(s))
	if checkField("passport", s) != nil || !strings.Contains(s, "@") {
		return "", false
	}
	return s, true
}

type xmlMember struct {
	MembershipID string `xml:"MembershipId"`
	DisplayName  string `xml:"DisplayName"`
	Deleted      string `xml:"Deleted"`
	PassportName string `xml:"PassportName"`
	Email        string `xml:"Email"`
}

// parseFindMembership reads a FindMembershipResponse. Only the Messenger service counts
// (a service without a Handle/Type is taken as Messenger); deleted members and members
// without a usable passport or e-mail address are skipped.
func parseFindMembership(data []byte) (*Memberships, error) {
	out := &Memberships{Members: make(map[Role][]Member)}
	var cnt counter
	visitMembership := func(svc map[Role][]Member) visitFunc {
		var role Role
		var members []Member
		return func(w *walker, se xml.StartElement) (bool, error) {
			switch {
			case se.Name.Local == "MemberRole" && w.under("Membership"):
				s, err := w.text(se)
				role = Role(s)
				for i := range members {
					members[i].Role = role
				}
				svc[role] = append(svc[role], members...)
				members = nil
				return true, err
			case se.Name.Local == "Member" && w.under("Members"):
				if err := cnt.add(); err != nil {
					return true, err
				}
				var x xmlMember
				if err := w.decode(&x, se); err != nil {
					return true, err
				}
				if isTrue(x.Deleted) {
					return true, nil
				}
				p, ok := cleanPassport(x.PassportName)
				if !ok {
					if p, ok = cleanPassport(x.Email); !ok {
						return true, nil
					}
				}
				m := Member{
					Passport:     p,
					DisplayName:  truncateUTF8(strings.TrimSpace(x.DisplayName), maxFieldLen*2),
					MembershipID: truncateUTF8(strings.TrimSpace(x.MembershipID), maxFieldLen),
					Role:         role,
				}
				if role == "" { // MemberRole not seen yet: keep until it is
					members = append(members, m)
				} else {
					svc[role] = append(svc[role], m)
				}
				return true, nil
			}
			return false, nil
		}
	}
	env, err := walkEnvelope(data, "FindMembershipResponse", func(w *walker, se xml.StartElement) (bool, error) {
		if !strings.EqualFold(se.Name.Local, "Service") || !w.under("Services") {
			return false, nil
		}
		svc := make(map[Role][]Member)
		var svcType string
		err := w.sub(se, func(w *walker, se xml.StartElement) (bool, error) {
			switch {
			case se.Name.Local == "Membership" && w.under("Memberships"):
				return true, w.sub(se, visitMembership(svc))
			case se.Name.Local == "Type" && w.under("Service", "Info", "Handle"):
				s, err := w.text(se)
				svcType = s
				return true, err
			}
			return false, nil
		})
		if err != nil {
			return true, err
		}
		if svcType == "" || strings.EqualFold(svcType, "Messenger") {
			for role, list := range svc {
				if role.valid() && len(list) > 0 {
					out.Members[role] = append(out.Members[role], list...)
				}
			}
		}
		return true, nil
	})
	if err != nil {
		return nil, err
	}
	if err := env.result("FindMembershipResponse"); err != nil {
		return nil, err
	}
	return out, nil
}

type xmlContact struct {
	ContactID string `xml:"contactId"`
	Deleted   string `xml:"fDeleted"`
	Info      struct {
		Type            string `xml:"contactType"`
		PassportName    string `xml:"passportName"`
		DisplayName     string `xml:"displayName"`
		IsMessengerUser string `xml:"isMessengerUser"`
		Annotations     []struct {
			Name  string `xml:"Name"`
			Value string `xml:"Value"`
		} `xml:"annotations>Annotation"`
		GroupIDs []string `xml:"groupIds>guid"`
		Emails   []struct {
			Type    string `xml:"contactEmailType"`
			Email   string `xml:"email"`
			Enabled string `xml:"isMessengerEnabled"`
		} `xml:"emails>ContactEmail"`
	} `xml:"contactInfo"`
}

type xmlGroup struct {
	GroupID string `xml:"groupId"`
	Deleted string `xml:"fDeleted"`
	Name    string `xml:"groupInfo>name"`
}

func (x *xmlContact) toContact() (Contact, bool) {
	c := Contact{
		ID:              truncateUTF8(strings.TrimSpace(x.ContactID), maxFieldLen),
		DisplayName:     truncateUTF8(strings.TrimSpace(x.Info.DisplayName), maxFieldLen*2),
		Type:            truncateUTF8(strings.TrimSpace(x.Info.Type), maxFieldLen),
		IsMessengerUser: isTrue(x.Info.IsMessengerUser),
	}
	p, ok := cleanPassport(x.Info.PassportName)
	if !ok {
		for _, e := range x.Info.Emails {
			if isTrue(e.Enabled) || strings.EqualFold(strings.TrimSpace(e.Type), "Messenger2") {
				if p, ok = cleanPassport(e.Email); ok {
					break
				}
			}
		}
	}
	c.Passport = p
	for _, a := range x.Info.Annotations {
		if strings.TrimSpace(a.Name) == "AB.NickName" {
			c.NickName = truncateUTF8(strings.TrimSpace(a.Value), maxFieldLen*2)
		}
	}
	for _, g := range x.Info.GroupIDs {
		if g = strings.TrimSpace(g); g != "" && len(g) <= maxFieldLen {
			c.GroupIDs = append(c.GroupIDs, g)
		}
	}
	return c, ok
}

// parseAddressBook reads an ABFindAllResponse or ABFindContactsPagedResponse (want). The
// contactType Me entry becomes Me; deleted entries and contacts without a usable passport
// are skipped.
func parseAddressBook(data []byte, want string) (*AddressBook, error) {
	ab := &AddressBook{}
	var cnt counter
	env, err := walkEnvelope(data, want, func(w *walker, se xml.StartElement) (bool, error) {
		switch {
		case se.Name.Local == "Contact" && w.under("contacts"):
			if err := cnt.add(); err != nil {
				return true, err
			}
			var x xmlContact
			if err := w.decode(&x, se); err != nil {
				return true, err
			}
			if isTrue(x.Deleted) {
				return true, nil
			}
			c, ok := x.toContact()
			if strings.EqualFold(c.Type, "Me") {
				if ab.Me == nil {
					ab.Me = &c
				}
				return true, nil
			}
			if ok {
				ab.Contacts = append(ab.Contacts, c)
			}
			return true, nil
		case se.Name.Local == "Group" && w.under("groups"):
			if err := cnt.add(); err != nil {
				return true, err
			}
			var x xmlGroup
			if err := w.decode(&x, se); err != nil {
				return true, err
			}
			id := strings.TrimSpace(x.GroupID)
			if isTrue(x.Deleted) || id == "" || len(id) > maxFieldLen {
				return true, nil
			}
			ab.Groups = append(ab.Groups, Group{ID: id, Name: truncateUTF8(strings.TrimSpace(x.Name), maxFieldLen*2)})
			return true, nil
		}
		return false, nil
	})
	if err != nil {
		return nil, err
	}
	if err := env.result(want); err != nil {
		return nil, err
	}
	return ab, nil
}

// parseContactAdd reads the new contact guid from an ABContactAddResponse.
func parseContactAdd(data []byte) (string, error) {
	var guid string
	env, err := walkEnvelope(data, "ABContactAddResponse", func(w *walker, se xml.StartElement) (bool, error) {
		if se.Name.Local == "guid" && w.under("ABContactAddResult") && guid == "" {
			s, err := w.text(se)
			guid = s
			return true, err
		}
		return false, nil
	})
	if err != nil {
		return "", err
	}
	if err := env.result("ABContactAddResponse"); err != nil {
		return "", err
	}
	if err := checkField("contact guid", guid); err != nil {
		return "", malformed("ABContactAddResult: %v", err)
	}
	return guid, nil
}
