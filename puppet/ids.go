package puppet

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"maunium.net/go/mautrix/bridgev2/networkid"
	"maunium.net/go/mautrix/id"
)

// MaxPassportLength is the longest passport accepted (64-byte local part, @, 64-byte domain).
const MaxPassportLength = 129

// MaxEncodedIDLength bounds the Matrix-localpart-encoded ghost id so that the full Matrix user id
// (prefix, localpart, server name) stays well below Matrix's 255-byte limit.
const MaxEncodedIDLength = 160

// ErrInvalidPassport is returned for strings that cannot be an MSN passport.
var ErrInvalidPassport = errors.New("not a valid MSN passport (e-mail address)")

// NormalizePassport trims and lower-cases a passport and checks that it looks like an e-mail
// address: one @, non-empty parts, no spaces, control characters or ":" (which keeps DM portal
// ids apart from "group:" ones), bounded length.
func NormalizePassport(passport string) (string, error) {
	p := strings.ToLower(strings.TrimSpace(passport))
	if p == "" || len(p) > MaxPassportLength {
		return "", fmt.Errorf("%w: %q", ErrInvalidPassport, truncate(passport, 40))
	}
	at := strings.IndexByte(p, '@')
	if at <= 0 || at != strings.LastIndexByte(p, '@') || at == len(p)-1 {
		return "", fmt.Errorf("%w: %q", ErrInvalidPassport, truncate(passport, 40))
	}
	for _, r := range p {
		// ':' never occurs in a passport; rejecting it keeps passports (and so DM portal ids)
		// apart from the "group:" ids of group portals.
		if unicode.IsSpace(r) || unicode.IsControl(r) || r == '<' || r == '>' || r == '"' || r == ',' || r == ';' || r == '\\' || r == ':' {
			return "", fmt.Errorf("%w: %q", ErrInvalidPassport, truncate(passport, 40))
		}
	}
	return p, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// GhostID returns the ghost id for a passport: the lower-cased passport. A passport whose Matrix
// localpart encoding would be too long gets a shortened id: a prefix of the passport's local part, "." and a
// hash of the whole passport. Such ids cannot be turned back into passports without the contact
// list (see [IsHashedID]); they contain no "@". The passport must already be normalised.
//
// A ghost id never contains ':' (which group portal ids use): a passport with one, which
// NormalizePassport refuses but a server might still send, gets the hashed form without it.
func GhostID(passport string) networkid.UserID {
	p := strings.ToLower(passport)
	if len(id.EncodeUserLocalpart(p)) <= MaxEncodedIDLength && !strings.Contains(p, ":") {
		return networkid.UserID(p)
	}
	sum := sha256.Sum256([]byte(p))
	suffix := "." + hex.EncodeToString(sum[:12])
	prefix, _, _ := strings.Cut(p, "@")
	prefix = strings.ReplaceAll(prefix, ":", "")
	for len(prefix) > 0 && len(id.EncodeUserLocalpart(prefix+suffix)) > MaxEncodedIDLength {
		_, size := utf8.DecodeLastRuneInString(prefix)
		prefix = prefix[:len(prefix)-size]
	}
	return networkid.UserID(prefix + suffix)
}

// IsHashedID reports whether a ghost id is a shortened one made by [GhostID] for a long passport
// (it has no "@", which every passport has).
func IsHashedID(ghostID networkid.UserID) bool {
	return !strings.Contains(string(ghostID), "@")
}

// PassportFromID returns the passport for a ghost id that is not hashed.
func PassportFromID(ghostID networkid.UserID) (string, bool) {
	if IsHashedID(ghostID) {
		return "", false
	}
	p, err := NormalizePassport(string(ghostID))
	if err != nil {
		return "", false
	}
	return p, true
}
