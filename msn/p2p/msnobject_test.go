package p2p

import (
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

// carolObject is the MSNObject of transcripts/p2p/01-dp-fetch.txt (carol's CHG, bob's NLN
// and the INVITE's Context); its SHA1C reproduces under the FACTS §5.5 formula.
const carolObject = `<msnobj Creator="carol@example.com" Size="4238" Type="3" Location="TFR2C2.tmp" Friendly="AAA=" SHA1D="FA1XTYlq381gZmUrSWySPD3CsB4=" SHA1C="XS1oyK1bjrHgCm1fVAlm9ltHJdA="/>`

// carolContext is the Context of bob's captured INVITE for carolObject.
const carolContext = "PG1zbm9iaiBDcmVhdG9yPSJjYXJvbEBleGFtcGxlLmNvbSIgU2l6ZT0iNDIzOCIgVHlwZT0iMyIgTG9jYXRpb249IlRGUjJDMi50bXAiIEZyaWVuZGx5PSJBQUE9IiBTSEExRD0iRkExWFRZbHEzODFnWm1VclNXeVNQRDNDc0I0PSIgU0hBMUM9IlhTMW95SzFianJIZ0NtMWZWQWxtOWx0SEpkQT0iLz4="

func TestMSNObjectTranscriptVector(t *testing.T) {
	o, err := ParseMSNObject(carolObject)
	if err != nil {
		t.Fatal(err)
	}
	if o.Creator != "carol@example.com" || o.Size != 4238 || o.Type != ObjectDisplayPicture ||
		o.Location != "TFR2C2.tmp" || o.Friendly != "AAA=" || o.SHA1D != "FA1XTYlq381gZmUrSWySPD3CsB4=" {
		t.Fatalf("parsed %+v", o)
	}
	if got := o.Checksum(); got != o.SHA1C {
		t.Fatalf("SHA1C formula gives %s, the capture has %s", got, o.SHA1C)
	}
	// The captured picture's SHA-1 (transcript header) is the SHA1D.
	sum, _ := base64.StdEncoding.DecodeString(o.SHA1D)
	if hexs := strings.ToLower(hexString(sum)); hexs != "140d574d896adfcd6066652b496c923c3dc2b01e" {
		t.Fatalf("SHA1D is %s", hexs)
	}
	if o.Context() != carolContext {
		t.Fatalf("Context %s", o.Context())
	}
	back, err := ObjectFromContext(carolContext)
	if err != nil || back.String() != carolObject {
		t.Fatalf("from Context: %v %q", err, back)
	}
	// WLM appends a NUL before encoding.
	if back, err := ObjectFromContext(base64.StdEncoding.EncodeToString([]byte(carolObject + "\x00"))); err != nil || back.SHA1D != o.SHA1D {
		t.Fatalf("NUL-terminated Context: %v", err)
	}
}

func hexString(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}

// TestMSNObjectPublishedSamples: the NINA and Escargot samples (VECTORS §4) parse although
// their SHA1C does not reproduce: SHA1C is never a reason to reject.
func TestMSNObjectPublishedSamples(t *testing.T) {
	for _, s := range []string{
		`<msnobj Creator="buddy@hotmail.com" Size="24539" Type="3" Location="TFR2C.tmp" Friendly="AAA=" SHA1D="trC8SlFx2sWQxZMIBAWSEnXc8oQ=" SHA1C="U32o6bosZzluJq82eAtMpx5dIEI="/>`,
		`<msnobj Creator="andre-stein@hotmail.com" Size="5390" Type="3" Location="0" Friendly="AAA=" SHA1D="RZW585t5UbA8LqXWQVoT8nYbOYA=" SHA1C="7Ceck6FU1qeOgrWRsRxsFR8yh8g=" stamp="x" AvatarID="y"/>`,
	} {
		o, err := ParseMSNObject(s)
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		if o.Checksum() == o.SHA1C {
			t.Fatalf("%s: VECTORS §4 says this SHA1C does not reproduce", s)
		}
		if o.String() != s {
			t.Fatal("not echoed verbatim")
		}
	}
}

func TestMSNObjectBuildRoundTrip(t *testing.T) {
	data := []byte("\x89PNG fake picture bytes")
	o := NewMSNObject("alice@example.com", ObjectDisplayPicture, data, "", "Ali & \"ce\"")
	sum := sha1.Sum(data)
	if o.SHA1D != base64.StdEncoding.EncodeToString(sum[:]) || o.Size != len(data) || o.Location != "0" {
		t.Fatalf("built %+v", o)
	}
	if o.SHA1C != o.Checksum() || !o.Matches(data) || o.Matches(append(data, 0)) {
		t.Fatal("checksums")
	}
	back, err := ParseMSNObject(o.String())
	if err != nil {
		t.Fatal(err)
	}
	back.Raw = ""
	if *back != *o {
		t.Fatalf("round trip %+v != %+v", back, o)
	}
	if e := NewMSNObject("a@b", ObjectDisplayPicture, nil, "", ""); e.Friendly != "AAA=" {
		t.Fatalf("empty Friendly %q", e.Friendly)
	}
}

func TestMSNObjectRejects(t *testing.T) {
	for _, s := range []string{
		"", "0", "<msnobj/>", `<other Creator="a" Type="3" SHA1D="FA1XTYlq381gZmUrSWySPD3CsB4="/>`,
		`<msnobj Creator="a" Size="x" Type="3" SHA1D="FA1XTYlq381gZmUrSWySPD3CsB4="/>`,
		`<msnobj Creator="a" Size="1" Type="3" SHA1D="short"/>`,
		`<msnobj Size="1" Type="3" SHA1D="FA1XTYlq381gZmUrSWySPD3CsB4="/>`,
		"<msnobj " + strings.Repeat("a", MaxMSNObjectLen) + "/>",
	} {
		if _, err := ParseMSNObject(s); !errors.Is(err, ErrBadMSNObject) {
			t.Errorf("%.40q: %v", s, err)
		}
	}
}

// FuzzParseMSNObject: any text gives an object or an error; a built object from a parsed
// one parses back to the same fields.
func FuzzParseMSNObject(f *testing.F) {
	f.Add(carolObject)
	f.Fuzz(func(t *testing.T, s string) {
		o, err := ParseMSNObject(s)
		if err != nil {
			if !errors.Is(err, ErrBadMSNObject) {
				t.Fatalf("unclassified %v", err)
			}
			return
		}
		o.Raw = ""
		back, err := ParseMSNObject(o.String())
		if err != nil {
			t.Fatalf("rebuilt %q: %v", o.String(), err)
		}
		back.Raw = ""
		if *back != *o {
			t.Fatalf("%+v != %+v", back, o)
		}
		_ = o.Context()
	})
}
