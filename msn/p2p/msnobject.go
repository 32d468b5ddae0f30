package p2p

import (
	"crypto/sha1"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf16"
)

// MSNObject types (FACTS §5.5).
const (
	ObjectAvatar         = 1
	ObjectEmoticon       = 2
	ObjectDisplayPicture = 3
	ObjectSharedFile     = 4
	ObjectBackground     = 5
	ObjectWink           = 8
	ObjectVoiceClip      = 11
)

// Bounds of the MSNObject parser.
const (
	// MaxMSNObjectLen bounds the XML text of an MSNObject: the NS carries it URL-encoded on
	// a command line of a few KiB.
	MaxMSNObjectLen = 4 << 10
	maxObjectAttrs  = 32
)

// MSNObject describes a display picture, emoticon, wink or other object a client serves over
// P2P (FACTS §5.5): `<msnobj Creator="…" Size="…" Type="…" Location="…" Friendly="…"
// SHA1D="…" SHA1C="…"/>`.
type MSNObject struct {
	Creator  string // the owner's e-mail
	Size     int    // data length in bytes
	Type     int    // ObjectDisplayPicture, …
	Location string // file name hint ("0" when the client gives none)
	Friendly string // base64 of a UTF-16LE name
	SHA1D    string // base64(SHA-1(data)): the cache key
	SHA1C    string // checksum of the attributes; never verified (VECTORS §4)
	// Raw is the text the object was parsed from, to echo it back verbatim (peers compare
	// the Context of an INVITE with what they announced); "" for a built object.
	Raw string
}

// ErrBadMSNObject is wrapped by every MSNObject parse error.
var ErrBadMSNObject = errors.New("p2p: bad MSNObject")

// ParseMSNObject parses the XML text of an MSNObject (URL-decoded already, as ns.Contact
// holds it). Unknown attributes are ignored; Creator, Size, Type and SHA1D are required, and
// SHA1D must be the base64 of 20 bytes. SHA1C is not verified: real objects often do not
// reproduce it (VECTORS §4).
func ParseMSNObject(s string) (*MSNObject, error) {
	if len(s) > MaxMSNObjectLen {
		return nil, fmt.Errorf("%w: %d bytes (max %d)", ErrBadMSNObject, len(s), MaxMSNObjectLen)
	}
	raw := s
	s = strings.TrimRight(strings.TrimSpace(s), "\x00")
	d := xml.NewDecoder(strings.NewReader(s))
	d.Strict = false
	var start *xml.StartElement
	for start == nil {
		tok, err := d.RawToken()
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrBadMSNObject, err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			start = &t
		case xml.CharData:
			if strings.TrimSpace(string(t)) != "" {
				return nil, fmt.Errorf("%w: text before the element", ErrBadMSNObject)
			}
		}
	}
	if !strings.EqualFold(start.Name.Local, "msnobj") {
		return nil, fmt.Errorf("%w: element %q", ErrBadMSNObject, clip(start.Name.Local))
	}
	if len(start.Attr) > maxObjectAttrs {
		return nil, fmt.Errorf("%w: %d attributes", ErrBadMSNObject, len(start.Attr))
	}
	o := &MSNObject{Raw: raw}
	var err error
	for _, a := range start.Attr {
		switch a.Name.Local {
		case "Creator":
			o.Creator = a.Value
		case "Size":
			o.Size, err = strconv.Atoi(a.Value)
			if err != nil || o.Size < 0 {
				return nil, fmt.Errorf("%w: Size %q", ErrBadMSNObject, clip(a.Value))
			}
		case "Type":
			o.Type, err = strconv.Atoi(a.Value)
			if err != nil || o.Type < 0 {
				return nil, fmt.Errorf("%w: Type %q", ErrBadMSNObject, clip(a.Value))
			}
		case "Location":
			o.Location = a.Value
		case "Friendly":
			o.Friendly = a.Value
		case "SHA1D":
			o.SHA1D = a.Value
		case "SHA1C":
			o.SHA1C = a.Value
		}
	}
	switch {
	case o.Creator == "":
		return nil, fmt.Errorf("%w: no Creator", ErrBadMSNObject)
	case o.SHA1D == "":
		return nil, fmt.Errorf("%w: no SHA1D", ErrBadMSNObject)
	case o.Type == 0:
		return nil, fmt.Errorf("%w: no Type", ErrBadMSNObject)
	}
	if sum, err := base64.StdEncoding.DecodeString(o.SHA1D); err != nil || len(sum) != sha1.Size {
		return nil, fmt.Errorf("%w: SHA1D %q is not a base64 SHA-1", ErrBadMSNObject, clip(o.SHA1D))
	}
	return o, nil
}

// NewMSNObject describes data as an object of type typ owned by creator, with SHA1D and
// SHA1C computed as MSNPSharp and pidgin do; friendly is the name shown by clients (may be
// empty); location is a file name hint ("0" when empty).
func NewMSNObject(creator string, typ int, data []byte, location, friendly string) *MSNObject {
	if location == "" {
		location = "0"
	}
	sum := sha1.Sum(data)
	o := &MSNObject{
		Creator: creator, Size: len(data), Type: typ, Location: location,
		Friendly: encodeFriendly(friendly),
		SHA1D:    base64.StdEncoding.EncodeToString(sum[:]),
	}
	o.SHA1C = o.Checksum()
	return o
}

// encodeFriendly is base64(UTF-16LE(name + NUL)), "AAA=" for an empty name as clients send.
func encodeFriendly(name string) string {
	units := utf16.Encode([]rune(name + "\x00"))
	b := make([]byte, 0, 2*len(units))
	for _, u := range units {
		b = append(b, byte(u), byte(u>>8))
	}
	return base64.StdEncoding.EncodeToString(b)
}

// Checksum returns the SHA1C of o's attributes by the formula of FACTS §5.5:
// base64(SHA-1("Creator"+Creator+"Size"+Size+"Type"+Type+"Location"+Location+"Friendly"+
// Friendly+"SHA1D"+SHA1D)).
func (o *MSNObject) Checksum() string {
	s := "Creator" + o.Creator + "Size" + strconv.Itoa(o.Size) + "Type" + strconv.Itoa(o.Type) +
		"Location" + o.Location + "Friendly" + o.Friendly + "SHA1D" + o.SHA1D
	sum := sha1.Sum([]byte(s))
	return base64.StdEncoding.EncodeToString(sum[:])
}

// String returns the object's XML: Raw when it was parsed, else the attributes in the order
// clients write them.
func (o *MSNObject) String() string {
	if o.Raw != "" {
		return o.Raw
	}
	var b strings.Builder
	b.WriteString("<msnobj")
	attr := func(name, v string) {
		b.WriteString(" " + name + `="`)
		_ = xml.EscapeText(&b, []byte(v))
		b.WriteString(`"`)
	}
	attr("Creator", o.Creator)
	attr("Size", strconv.Itoa(o.Size))
	attr("Type", strconv.Itoa(o.Type))
	attr("Location", o.Location)
	attr("Friendly", o.Friendly)
	attr("SHA1D", o.SHA1D)
	attr("SHA1C", o.SHA1C)
	b.WriteString("/>")
	return b.String()
}

// Matches reports whether data is the object's data: its length is Size and its SHA-1 is
// SHA1D.
func (o *MSNObject) Matches(data []byte) bool {
	sum := sha1.Sum(data)
	return len(data) == o.Size && base64.StdEncoding.EncodeToString(sum[:]) == o.SHA1D
}

// Context returns the INVITE Context of a request for o: base64 of its XML, without a
// trailing NUL (as the captured client; WLM appends one, and ObjectFromContext accepts both).
func (o *MSNObject) Context() string {
	return base64.StdEncoding.EncodeToString([]byte(o.String()))
}

// ObjectFromContext decodes the Context field of an MSNObject INVITE.
func ObjectFromContext(ctx string) (*MSNObject, error) {
	ctx = strings.TrimSpace(ctx)
	if len(ctx) > 2*MaxMSNObjectLen {
		return nil, fmt.Errorf("%w: Context of %d bytes", ErrBadMSNObject, len(ctx))
	}
	raw, err := base64.StdEncoding.DecodeString(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w: Context: %w", ErrBadMSNObject, err)
	}
	return ParseMSNObject(strings.TrimRight(string(raw), "\x00"))
}
