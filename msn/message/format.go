package message

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/msnbridge/msnbridge/msn/wire"
)

// Bounds of ParseFormat: the value looked at, the font name (Windows allows 31 characters) and
// the CS/PF fields (small numbers).
const (
	maxFormatLen = 1024
	maxFontLen   = 96
	maxNumLen    = 16
)

// Format is the X-MMS-IM-Format of a text message.
type Format struct {
	// Font is the font name, decoded (FN is URL-encoded on the wire).
	Font                            string
	Bold, Italic, Underline, Strike bool
	// Color is the text colour as 0xRRGGBB. The wire carries a Windows COLORREF (BBGGRR hex).
	Color    uint32
	HasColor bool
	// CharSet (CS) and PitchFamily (PF) are kept as the decimal/hex strings sent.
	CharSet, PitchFamily string
	RightToLeft          bool // RL=1
}

// DefaultFormat is what the Windows Live client sends for unformatted text.
var DefaultFormat = Format{Font: "Segoe UI", CharSet: "1", PitchFamily: "0"}

// ParseFormat parses an X-MMS-IM-Format value such as "FN=Segoe%20UI; EF=B; CO=ff0000; CS=0;
// PF=22". It is tolerant: fields may be separated without spaces, keys are case-insensitive,
// unknown keys and unparsable colours are ignored, and it never fails.
func ParseFormat(s string) Format {
	if len(s) > maxFormatLen {
		s = s[:maxFormatLen]
	}
	var f Format
	for _, field := range strings.Split(s, ";") {
		k, v, ok := strings.Cut(field, "=")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		switch strings.ToUpper(strings.TrimSpace(k)) {
		case "FN":
			f.Font = clip(wire.DecodeParam(v), maxFontLen)
		case "EF":
			for _, c := range v {
				switch c {
				case 'B', 'b':
					f.Bold = true
				case 'I', 'i':
					f.Italic = true
				case 'U', 'u':
					f.Underline = true
				case 'S', 's':
					f.Strike = true
				}
			}
		case "CO":
			v = strings.TrimPrefix(v, "#")
			if v == "" || len(v) > 8 {
				continue
			}
			bgr, err := strconv.ParseUint(v, 16, 32)
			if err != nil {
				continue
			}
			bgr &= 0xffffff
			f.Color = uint32(bgr&0xff)<<16 | uint32(bgr&0xff00) | uint32(bgr>>16)
			f.HasColor = true
		case "CS":
			f.CharSet = clip(fieldSafe(v), maxNumLen)
		case "PF":
			f.PitchFamily = clip(fieldSafe(v), maxNumLen)
		case "RL":
			f.RightToLeft = v == "1"
		}
	}
	return f
}

// String renders the format as the official client does: "FN=…; EF=…; CO=…; CS=…; PF=…", plus
// "; RL=1" for right-to-left text. CO is the BGR hex without leading zeros ("0" when no colour
// is set); empty CS and PF are written as 0. Fields are clipped to the lengths ParseFormat
// keeps, so that a caller's odd format cannot push a text payload over the switchboard limit.
func (f Format) String() string {
	var b strings.Builder
	b.WriteString("FN=")
	b.WriteString(fontParam.Replace(wire.EncodeParam(clip(f.Font, maxFontLen))))
	b.WriteString("; EF=")
	if f.Bold {
		b.WriteByte('B')
	}
	if f.Italic {
		b.WriteByte('I')
	}
	if f.Underline {
		b.WriteByte('U')
	}
	if f.Strike {
		b.WriteByte('S')
	}
	b.WriteString("; CO=")
	var bgr uint32
	if f.HasColor {
		c := f.Color & 0xffffff
		bgr = (c&0xff)<<16 | c&0xff00 | c>>16
	}
	b.WriteString(strconv.FormatUint(uint64(bgr), 16))
	b.WriteString("; CS=")
	b.WriteString(orZero(clip(fieldSafe(f.CharSet), maxNumLen)))
	b.WriteString("; PF=")
	b.WriteString(orZero(clip(fieldSafe(f.PitchFamily), maxNumLen)))
	if f.RightToLeft {
		b.WriteString("; RL=1")
	}
	return b.String()
}

// fontParam escapes the separators EncodeParam leaves alone but the field list needs.
var fontParam = strings.NewReplacer(";", "%3B", "=", "%3D")

func orZero(s string) string {
	if s == "" {
		return "0"
	}
	return s
}

// fieldSafe drops characters that would break the field list or the header line.
func fieldSafe(s string) string {
	return strings.Map(func(r rune) rune {
		if r == ';' || r == '=' || unicode.IsSpace(r) || unicode.IsControl(r) {
			return -1
		}
		return r
	}, s)
}

// clip cuts s to at most n bytes on a rune boundary.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
