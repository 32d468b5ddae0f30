package ns

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
	"sync"

	"github.com/msnbridge/msnbridge/msn/wire"
)

// Bounds on parsed network input beyond the wire codec's line and payload limits.
const (
	maxXMLPayload   = 256 << 10 // UBX/ADL/RML payloads
	maxMIMEHeaders  = 128
	maxADLEntries   = 5000
	maxPassportLen  = 129
	maxFriendlyName = 1024 // decoded bytes kept from a friendly name
	adlSplitBytes   = 7500
)

var errMalformed = errors.New("malformed")

// presence is one parsed ILN/NLN/FLN line.
type presence struct {
	Status       Status
	Passport     string // lower-case, without network prefix or via suffix
	Network      int
	Via          string // MSNP18 circle: the ";via=" value
	FriendlyName string
	HasName      bool
	Caps         string
	MSNObject    string
}

// splitNetwork splits "1:bob@x.com;via=9:…" into network 1, "bob@x.com", via "9:…".
func splitNetwork(s string) (network int, passport, via string) {
	if i := strings.Index(s, ";via="); i >= 0 {
		s, via = s[:i], s[i+len(";via="):]
	}
	if i := strings.IndexByte(s, ':'); i > 0 && i <= 3 && wire.IsDigits(s[:i]) {
		network, _ = strconv.Atoi(s[:i])
		s = s[i+1:]
	}
	return network, strings.ToLower(s), via
}

func validStatus(s string) bool {
	switch Status(s) {
	case Online, Busy, Idle, BeRightBack, Away, OnThePhone, OutToLunch, Hidden, Offline:
		return true
	}
	return false
}

// parsePresence parses the arguments of ILN (after the TrID) or NLN: status, handle,
// [network id (MSNP14–17)], friendly name, [caps], [msnobj].
func parsePresence(version int, args []string) (presence, error) {
	var p presence
	if len(args) < 2 {
		return p, fmt.Errorf("presence with %d arguments: %w", len(args), errMalformed)
	}
	if !validStatus(args[0]) {
		return p, fmt.Errorf("presence status %q: %w", truncate(args[0], 8), errMalformed)
	}
	p.Status = internStatus(args[0])
	p.Network, p.Passport, p.Via = splitNetwork(args[1])
	if err := checkPassport(p.Passport); err != nil {
		return p, err
	}
	rest := args[2:]
	if version >= 14 && version <= 17 && len(rest) >= 2 && wire.IsDigits(rest[0]) {
		p.Network, _ = strconv.Atoi(rest[0])
		rest = rest[1:]
	}
	if p.Network == 0 {
		p.Network = 1
	}
	if len(rest) > 0 {
		p.FriendlyName, p.HasName = decodeName(rest[0]), true
	}
	if len(rest) > 1 {
		p.Caps = internCaps(rest[1])
	}
	if len(rest) > 2 {
		p.MSNObject = strings.Clone(normaliseMSNObject(wire.DecodeParam(rest[2])))
	}
	return p, nil
}

// parseFLN parses FLN arguments: handle [network] [caps].
func parseFLN(version int, args []string) (string, error) {
	if len(args) < 1 {
		return "", fmt.Errorf("FLN without handle: %w", errMalformed)
	}
	_, pp, _ := splitNetwork(args[0])
	return pp, checkPassport(pp)
}

// maxInternedCaps bounds the capability strings interned: real ones are "<number>:<number>".
const maxInternedCaps = 32

// maxCapsValues bounds the distinct capability strings kept process-wide (real clients send a
// few dozen); values past it get a copy of their own.
const maxCapsValues = 1024

// capsValues holds the process-wide copy of each capabilities string. A map, not the unique
// package: unique drops a value once no Handle refers to it (at the next GC), and the contact
// records keep only the string.
var capsValues struct {
	sync.Mutex
	m map[string]string
}

// internCaps returns the process-wide copy of a capabilities string ("2789003324:48"): most
// contacts of most sessions share a handful of values, kept once (a copy, so the command's
// bytes are never pinned). An unusual value gets a copy of its own.
func internCaps(s string) string {
	a, b, two := strings.Cut(s, ":")
	if len(s) > maxInternedCaps || !wire.IsDigits(a) || (two && !wire.IsDigits(b)) {
		return strings.Clone(s)
	}
	capsValues.Lock()
	defer capsValues.Unlock()
	if v, ok := capsValues.m[s]; ok {
		return v
	}
	v := strings.Clone(s)
	if len(capsValues.m) < maxCapsValues {
		if capsValues.m == nil {
			capsValues.m = make(map[string]string)
		}
		capsValues.m[v] = v
	}
	return v
}

// normaliseMSNObject returns "" for "0" and for objects without SHA1D (Escargot's "<msnobj/>").
func normaliseMSNObject(s string) string {
	if s == "0" || !strings.Contains(s, "SHA1D") {
		return ""
	}
	return s
}

// decodeName decodes a friendly name from a command argument into a string of its own: names
// are kept in contacts, and a substring of the argument would pin the whole command in memory
// (wire allocates a command's line and payload together).
func decodeName(s string) string {
	d := wire.DecodeParam(s)
	if len(d) > maxFriendlyName {
		d = strings.ToValidUTF8(d[:maxFriendlyName], "")
	}
	return strings.Clone(d)
}

// internStatus returns the Status constant equal to s (s is valid, see validStatus), so that
// a contact's status never refers to a command's bytes.
func internStatus(s string) Status {
	for _, st := range [...]Status{Online, Busy, Idle, BeRightBack, Away, OnThePhone, OutToLunch, Hidden, Offline} {
		if string(st) == s {
			return st
		}
	}
	return Status(strings.Clone(s))
}

func checkPassport(p string) error {
	if p == "" || len(p) > maxPassportLen || strings.ContainsAny(p, " \r\n\t<>\"") {
		return fmt.Errorf("handle %q: %w", truncate(p, 32), errMalformed)
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// ubxData is the UBX payload: personal message, media and endpoints.
type ubxData struct {
	PSM          string `xml:"PSM"`
	CurrentMedia string `xml:"CurrentMedia"`
	MachineGUID  string `xml:"MachineGuid"`
	Endpoints    []struct {
		ID           string `xml:"id,attr"`
		Capabilities string `xml:"Capabilities"`
	} `xml:"EndpointData"`
	Private []struct {
		ID         string `xml:"id,attr"`
		EpName     string `xml:"EpName"`
		Idle       string `xml:"Idle"`
		ClientType string `xml:"ClientType"`
		State      string `xml:"State"`
	} `xml:"PrivateEndpointData"`
}

// parseUBX parses a UBX payload; an empty payload is "no data".
func parseUBX(payload []byte) (*ubxData, error) {
	d := &ubxData{}
	if len(bytes.TrimSpace(payload)) == 0 {
		return d, nil
	}
	if len(payload) > maxXMLPayload {
		return nil, fmt.Errorf("UBX payload of %d bytes: %w", len(payload), errMalformed)
	}
	dec := xml.NewDecoder(bytes.NewReader(payload))
	if err := dec.Decode(d); err != nil {
		return nil, fmt.Errorf("UBX payload: %w", err)
	}
	return d, nil
}

// maxEndpoints bounds the endpoints kept from one UBX.
const maxEndpoints = 64

// endpoints merges EndpointData and PrivateEndpointData by id, in order of first appearance.
func (d *ubxData) endpoints() []Endpoint {
	var out []Endpoint
	index := map[string]int{}
	get := func(id string) *Endpoint {
		key := strings.ToLower(strings.TrimSpace(id))
		if i, ok := index[key]; ok {
			return &out[i]
		}
		if key == "" || len(out) >= maxEndpoints {
			return nil
		}
		index[key] = len(out)
		out = append(out, Endpoint{ID: strings.TrimSpace(id)})
		return &out[len(out)-1]
	}
	for _, e := range d.Endpoints {
		if ep := get(e.ID); ep != nil {
			ep.Caps = strings.TrimSpace(e.Capabilities)
		}
	}
	for _, e := range d.Private {
		if ep := get(e.ID); ep != nil {
			ep.Name, ep.ClientType, ep.State = e.EpName, strings.TrimSpace(e.ClientType), strings.TrimSpace(e.State)
			ep.Idle = strings.EqualFold(strings.TrimSpace(e.Idle), "true")
		}
	}
	return out
}

// endpointsKey is a 32-bit FNV-1a digest of the endpoints for change detection (0 for none):
// kept in each contact's record (in what was padding), it costs no memory, where the rendered
// list cost a few hundred bytes. A change goes unnoticed only on a digest collision (2^-32).
func endpointsKey(eps []Endpoint) uint32 {
	if len(eps) == 0 {
		return 0
	}
	h := fnv.New32a()
	for _, e := range eps {
		fmt.Fprintf(h, "%q %q %q %q %q %t\n", e.ID, e.Caps, e.Name, e.ClientType, e.State, e.Idle)
	}
	return h.Sum32() | 1 // never 0: 0 means no endpoints
}

// ubxHandle parses the UBX arguments: handle [network].
func ubxHandle(args []string) (string, error) {
	if len(args) < 1 {
		return "", fmt.Errorf("UBX without handle: %w", errMalformed)
	}
	_, pp, _ := splitNetwork(args[0])
	return pp, checkPassport(pp)
}

// mlContact is one <c> entry of an ADL/RML/FQY list.
type mlContact struct {
	Passport     string
	Lists        ListBits
	Network      int
	FriendlyName string
}

type mlDoc struct {
	XMLName xml.Name `xml:"ml"`
	L       string   `xml:"l,attr"`
	Domains []struct {
		Name     string `xml:"n,attr"`
		Contacts []struct {
			Name     string `xml:"n,attr"`
			L        string `xml:"l,attr"`
			T        string `xml:"t,attr"`
			Friendly string `xml:"f,attr"`
		} `xml:"c"`
	} `xml:"d"`
}

// parseML parses an ADL/RML payload.
func parseML(payload []byte) ([]mlContact, error) {
	if len(payload) > maxXMLPayload {
		return nil, fmt.Errorf("ml payload of %d bytes: %w", len(payload), errMalformed)
	}
	var doc mlDoc
	dec := xml.NewDecoder(bytes.NewReader(payload))
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("ml payload: %w", err)
	}
	var out []mlContact
	for _, d := range doc.Domains {
		for _, c := range d.Contacts {
			if len(out) >= maxADLEntries {
				return nil, fmt.Errorf("ml payload with more than %d contacts: %w", maxADLEntries, errMalformed)
			}
			pp := strings.ToLower(c.Name + "@" + d.Name)
			if err := checkPassport(pp); err != nil || c.Name == "" || d.Name == "" {
				return nil, fmt.Errorf("ml contact %q: %w", truncate(pp, 32), errMalformed)
			}
			l, _ := strconv.Atoi(c.L)
			t, _ := strconv.Atoi(c.T)
			if l < 0 || l > 255 {
				return nil, fmt.Errorf("ml list bits %q: %w", truncate(c.L, 8), errMalformed)
			}
			out = append(out, mlContact{Passport: pp, Lists: ListBits(l), Network: t, FriendlyName: decodeName(c.Friendly)})
		}
	}
	return out, nil
}

// buildML renders contacts as <ml> payloads of at most maxBytes each, grouped by domain.
// initial adds l="1" to the root (the post-login list).
func buildML(contacts []mlContact, initial bool, maxBytes int) [][]byte {
	var out [][]byte
	open := "<ml>"
	if initial {
		open = `<ml l="1">`
	}
	var b strings.Builder
	curDomain := ""
	start := func() { b.Reset(); b.WriteString(open); curDomain = "" }
	finish := func() {
		if curDomain != "" {
			b.WriteString("</d>")
		}
		b.WriteString("</ml>")
		out = append(out, []byte(b.String()))
	}
	start()
	empty := true
	for _, c := range sortByDomain(contacts) {
		user, domain, ok := strings.Cut(c.Passport, "@")
		if !ok {
			continue
		}
		net := c.Network
		if net == 0 {
			net = 1
		}
		entry := fmt.Sprintf(`<c n="%s" l="%d" t="%d" />`, xmlAttr(user), c.Lists, net)
		extra := len(entry) + len("</d></ml>")
		if domain != curDomain {
			extra += len(`</d><d n="">`) + len(domain)
		}
		if !empty && b.Len()+extra > maxBytes {
			finish()
			start()
		}
		if domain != curDomain {
			if curDomain != "" {
				b.WriteString("</d>")
			}
			fmt.Fprintf(&b, `<d n="%s">`, xmlAttr(domain))
			curDomain = domain
		}
		b.WriteString(entry)
		empty = false
	}
	if !empty || initial {
		finish()
	}
	return out
}

func sortByDomain(in []mlContact) []mlContact {
	out := append([]mlContact(nil), in...)
	dom := func(p string) string { _, d, _ := strings.Cut(p, "@"); return d }
	// insertion order within a domain is kept (stable sort)
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && dom(out[j-1].Passport) > dom(out[j].Passport); j-- {
			out[j-1], out[j] = out[j], out[j-1]
		}
	}
	return out
}

func xmlAttr(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return strings.ReplaceAll(b.String(), `"`, "&quot;")
}

// mimeMessage is a parsed NS MSG payload: headers and body.
type mimeMessage struct {
	Headers map[string]string // keys lower-case
	Body    []byte
}

// parseMIME parses "Key: Value" header lines up to the first empty line. Header keys are
// lower-cased; repeated keys keep the first value.
func parseMIME(payload []byte) (*mimeMessage, error) {
	m := &mimeMessage{Headers: map[string]string{}}
	rest := payload
	for n := 0; ; n++ {
		if len(rest) == 0 {
			return m, nil
		}
		var line []byte
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			line, rest = rest, nil
		} else {
			line, rest = rest[:i], rest[i+1:]
		}
		line = bytes.TrimRight(line, "\r")
		if len(line) == 0 {
			m.Body = rest
			return m, nil
		}
		if n >= maxMIMEHeaders {
			return nil, fmt.Errorf("more than %d MIME headers: %w", maxMIMEHeaders, errMalformed)
		}
		k, v, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			return nil, fmt.Errorf("MIME header line without colon: %w", errMalformed)
		}
		key := strings.ToLower(strings.TrimSpace(string(k)))
		if _, dup := m.Headers[key]; !dup {
			m.Headers[key] = strings.TrimSpace(string(v))
		}
	}
}

// contentType returns the media type of the message, lower-case, without parameters.
func (m *mimeMessage) contentType() string {
	ct, _, _ := strings.Cut(m.Headers["content-type"], ";")
	return strings.ToLower(strings.TrimSpace(ct))
}

// lstEntry is one contact line of a SYN reply.
type lstEntry struct {
	Passport, FriendlyName, ContactID string
	Lists                             ListBits
	Groups                            []string
	// MSNP2–7 only: the list this line belongs to and its position.
	List         string
	Index, Count int
}

// parseLST parses a LST line of any version. cmd is as read by the wire reader (which takes a
// leading number as a TrID).
func parseLST(version int, cmd *wire.Command) (lstEntry, error) {
	var e lstEntry
	a := cmd.Args
	switch {
	case version <= 7:
		// LST t FL ver idx count email friendly [groups]; empty list: LST t BL ver 0 0
		if len(a) < 4 {
			return e, fmt.Errorf("LST with %d arguments: %w", len(a), errMalformed)
		}
		e.List = a[0]
		bit, ok := listBit(a[0])
		if !ok {
			return e, fmt.Errorf("LST list %q: %w", truncate(a[0], 8), errMalformed)
		}
		var err1, err2 error
		e.Index, err1 = strconv.Atoi(a[2])
		e.Count, err2 = strconv.Atoi(a[3])
		if err1 != nil || err2 != nil || e.Index < 0 || e.Count < 0 {
			return e, fmt.Errorf("LST position %q/%q: %w", truncate(a[2], 8), truncate(a[3], 8), errMalformed)
		}
		if e.Count == 0 {
			return e, nil
		}
		if len(a) < 6 {
			return e, fmt.Errorf("LST entry with %d arguments: %w", len(a), errMalformed)
		}
		e.Passport = strings.ToLower(a[4])
		e.FriendlyName = decodeName(a[5])
		e.Lists = bit
		if len(a) > 6 && bit == FL {
			e.Groups = splitGroups(a[6])
		}
	case version <= 9:
		// LST email friendly bits [groups]
		if cmd.HasTrID || len(a) < 3 {
			return e, fmt.Errorf("LST with %d arguments: %w", len(a), errMalformed)
		}
		e.Passport = strings.ToLower(a[0])
		e.FriendlyName = decodeName(a[1])
		bits, err := strconv.Atoi(a[2])
		if err != nil || bits < 0 || bits > 255 {
			return e, fmt.Errorf("LST list bits %q: %w", truncate(a[2], 8), errMalformed)
		}
		e.Lists = ListBits(bits)
		if len(a) > 3 {
			e.Groups = splitGroups(a[3])
		}
	default:
		// LST N=email [F=friendly] [C=guid] bits [extra numbers] [groups]
		gotBits := false
		for _, f := range a {
			switch {
			case strings.HasPrefix(f, "N="):
				e.Passport = strings.ToLower(f[2:])
			case strings.HasPrefix(f, "F="):
				e.FriendlyName = decodeName(f[2:])
			case strings.HasPrefix(f, "C="):
				e.ContactID = f[2:]
			case wire.IsDigits(f):
				if !gotBits {
					bits, err := strconv.Atoi(f)
					if err != nil || bits > 255 {
						return e, fmt.Errorf("LST list bits %q: %w", truncate(f, 8), errMalformed)
					}
					e.Lists, gotBits = ListBits(bits), true
				}
			default:
				if gotBits {
					e.Groups = splitGroups(f)
				}
			}
		}
		if !gotBits {
			return e, fmt.Errorf("LST without list bits: %w", errMalformed)
		}
	}
	if err := checkPassport(e.Passport); err != nil {
		return e, err
	}
	if e.FriendlyName == "" {
		e.FriendlyName = e.Passport
	}
	return e, nil
}

func splitGroups(s string) []string {
	var out []string
	for _, g := range strings.Split(s, ",") {
		if g != "" && len(out) < 64 {
			out = append(out, g)
		}
	}
	return out
}

func listBit(name string) (ListBits, bool) {
	switch name {
	case "FL":
		return FL, true
	case "AL":
		return AL, true
	case "BL":
		return BL, true
	case "RL":
		return RL, true
	case "PL":
		return PL, true
	}
	return 0, false
}

func listName(b ListBits) string {
	switch b {
	case FL:
		return "FL"
	case AL:
		return "AL"
	case BL:
		return "BL"
	case RL:
		return "RL"
	case PL:
		return "PL"
	}
	return ""
}

// parseLSG parses a LSG line: MSNP7 "LSG t ver idx count gid name 0", MSNP8–9 "LSG gid name 0"
// (gid read as TrID by the wire reader), MSNP10+ "LSG name guid".
func parseLSG(version int, cmd *wire.Command) (Group, error) {
	a := cmd.Args
	switch {
	case version <= 7:
		if len(a) < 5 {
			return Group{}, fmt.Errorf("LSG with %d arguments: %w", len(a), errMalformed)
		}
		return Group{ID: a[3], Name: decodeName(a[4])}, nil
	case version <= 9:
		if cmd.HasTrID && len(a) >= 1 {
			return Group{ID: strconv.FormatUint(uint64(cmd.TrID), 10), Name: decodeName(a[0])}, nil
		}
		if len(a) >= 2 {
			return Group{ID: a[0], Name: decodeName(a[1])}, nil
		}
	default:
		if cmd.HasTrID && len(a) == 1 {
			return Group{ID: a[0], Name: strconv.FormatUint(uint64(cmd.TrID), 10)}, nil
		}
		if len(a) >= 2 {
			return Group{ID: a[1], Name: decodeName(a[0])}, nil
		}
	}
	return Group{}, fmt.Errorf("LSG with %d arguments: %w", len(a), errMalformed)
}

// xmlText escapes s as XML character data.
func xmlText(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}
