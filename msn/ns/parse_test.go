package ns

import (
	"fmt"
	"strings"
	"testing"

	"github.com/msnbridge/msnbridge/msn/wire"
)

func serverCmd(t *testing.T, line string) *wire.Command {
	t.Helper()
	c, _, err := wire.ParseLine(line, wire.FromServer)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestParsePresenceAllVersions(t *testing.T) {
	for _, tc := range []struct {
		v                                 int
		line                              string
		status                            Status
		passport, name, caps, msnobj, via string
		network                           int
	}{
		{7, "ILN 7 NLN bob@example.com bob%20b", Online, "bob@example.com", "bob b", "", "", "", 1},
		{8, "ILN 6 BSY Bob@Example.com Bob 1073741824", Busy, "bob@example.com", "Bob", "1073741824", "", "", 1},
		{10, "NLN NLN alice@example.com Alice%20(probe) 1073741824 %3Cmsnobj%2F%3E", Online, "alice@example.com", "Alice (probe)", "1073741824", "", "", 1},
		{12, "NLN AWY a@x.com A 1 %3Cmsnobj%20Creator%3D%22a%22%20SHA1D%3D%22x%22%2F%3E", Away, "a@x.com", "A", "1", `<msnobj Creator="a" SHA1D="x"/>`, "", 1},
		{15, "ILN 8 NLN bob@example.com 1 Bob%20(probe) 1342177280 %3Cmsnobj%2F%3E", Online, "bob@example.com", "Bob (probe)", "1342177280", "", "", 1},
		{16, "NLN IDL y@yahoo.com 32 12345 0:0 0", Idle, "y@yahoo.com", "12345", "0:0", "", "", 32},
		{18, "NLN NLN 1:bob@example.com Bob%20(probe) 2789003324:48 0", Online, "bob@example.com", "Bob (probe)", "2789003324:48", "", "", 1},
		{18, "NLN BRB 1:m@x.com;via=9:00000000-0000-0000-0009-000000000001@live.com M 0:0 0", BeRightBack, "m@x.com", "M", "0:0", "", "9:00000000-0000-0000-0009-000000000001@live.com", 1},
	} {
		t.Run(tc.line, func(t *testing.T) {
			c := serverCmd(t, tc.line)
			p, err := parsePresence(tc.v, c.Args)
			if err != nil {
				t.Fatal(err)
			}
			if p.Status != tc.status || p.Passport != tc.passport || p.FriendlyName != tc.name || p.Caps != tc.caps || p.MSNObject != tc.msnobj || p.Via != tc.via || p.Network != tc.network {
				t.Errorf("got %+v", p)
			}
		})
	}
	for _, bad := range [][]string{nil, {"NLN"}, {"XXX", "a@b"}, {"NLN", "a b@c"}, {"NLN", strings.Repeat("a", 200)}} {
		if _, err := parsePresence(18, bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestParseFLNAllVersions(t *testing.T) {
	for _, tc := range []struct {
		v    int
		line string
	}{{7, "FLN bob@x.com"}, {15, "FLN bob@x.com 1 0"}, {16, "FLN bob@x.com 1 0:0"}, {18, "FLN 1:Bob@x.com 0:0"}} {
		pp, err := parseFLN(tc.v, serverCmd(t, tc.line).Args)
		if err != nil || pp != "bob@x.com" {
			t.Errorf("%s: %q %v", tc.line, pp, err)
		}
	}
	if _, err := parseFLN(18, nil); err == nil {
		t.Error("empty FLN accepted")
	}
}

func TestParseLSTShapes(t *testing.T) {
	for _, tc := range []struct {
		v                        int
		line                     string
		passport, name, id, list string
		bits                     ListBits
		groups                   []string
	}{
		{2, "LST 5 FL 1 1 1 bob@example.com bob@example.com", "bob@example.com", "bob@example.com", "", "FL", FL, nil},
		{7, "LST 6 FL 1 1 1 alice@example.com Alice%20A 0,2", "alice@example.com", "Alice A", "", "FL", FL, []string{"0", "2"}},
		{7, "LST 6 RL 1 1 1 alice@example.com alice@example.com", "alice@example.com", "alice@example.com", "", "RL", RL, nil},
		{8, "LST alice@example.com alice@example.com 11 0", "alice@example.com", "alice@example.com", "", "", FL | AL | RL, []string{"0"}},
		{10, "LST N=alice@example.com F=alice@example.com C=edc377f8-1aba-4180-8317-8f5f51713242 11 ", "alice@example.com", "alice@example.com", "edc377f8-1aba-4180-8317-8f5f51713242", "", FL | AL | RL, nil},
		{12, "LST N=bob@example.com F=Bob%20(probe) C=668c406c 11 1 g1,g2", "bob@example.com", "Bob (probe)", "668c406c", "", FL | AL | RL, []string{"g1", "g2"}},
		{11, "LST N=carol@example.com 8", "carol@example.com", "carol@example.com", "", "", RL, nil},
	} {
		t.Run(tc.line, func(t *testing.T) {
			e, err := parseLST(tc.v, serverCmd(t, tc.line))
			if err != nil {
				t.Fatal(err)
			}
			if e.Passport != tc.passport || e.FriendlyName != tc.name || e.ContactID != tc.id || e.List != tc.list || e.Lists != tc.bits || fmt.Sprint(e.Groups) != fmt.Sprint(tc.groups) {
				t.Errorf("got %+v", e)
			}
		})
	}
	empty, err := parseLST(7, serverCmd(t, "LST 6 BL 1 0 0"))
	if err != nil || empty.Passport != "" || empty.Count != 0 || empty.List != "BL" {
		t.Errorf("empty list %+v %v", empty, err)
	}
	for _, bad := range []struct {
		v    int
		line string
	}{{7, "LST 6 XX 1 1 1 a@b a"}, {7, "LST 6 FL 1 1 1"}, {8, "LST a@b"}, {10, "LST N=a@b F=x"}, {8, "LST a@b x 999"}} {
		if _, err := parseLST(bad.v, serverCmd(t, bad.line)); err == nil {
			t.Errorf("%q accepted", bad.line)
		}
	}
}

func TestParseLSGShapes(t *testing.T) {
	for _, tc := range []struct {
		v              int
		line, id, name string
	}{
		{7, "LSG 6 1 1 1 0 Other%20Contacts 0", "0", "Other Contacts"},
		// MSNP8–9: the group id looks like a TrID to the wire reader.
		{8, "LSG 0 Other%20Contacts 0", "0", "Other Contacts"},
		{9, "LSG 12 Friends 0", "12", "Friends"},
		{10, "LSG Friends%20%26%20Family 4b2c1d2e-0f11", "4b2c1d2e-0f11", "Friends & Family"},
		// MSNP10+: a numeric group name is also taken for a TrID.
		{12, "LSG 2005 0f11-aa", "0f11-aa", "2005"},
	} {
		g, err := parseLSG(tc.v, serverCmd(t, tc.line))
		if err != nil || g.ID != tc.id || g.Name != tc.name {
			t.Errorf("%s: %+v %v", tc.line, g, err)
		}
	}
	if _, err := parseLSG(10, serverCmd(t, "LSG")); err == nil {
		t.Error("empty LSG accepted")
	}
}

func TestMLRoundTripAndSplit(t *testing.T) {
	in := []mlContact{{Passport: "bob@example.com", Lists: FL | AL, Network: 1}, {Passport: "a@other.org", Lists: BL, Network: 1}, {Passport: "c@example.com", Lists: FL, Network: 1}}
	out := buildML(in, true, adlSplitBytes)
	if len(out) != 1 {
		t.Fatalf("%d payloads", len(out))
	}
	want := `<ml l="1"><d n="example.com"><c n="bob" l="3" t="1" /><c n="c" l="1" t="1" /></d><d n="other.org"><c n="a" l="4" t="1" /></d></ml>`
	if string(out[0]) != want {
		t.Errorf("got  %s\nwant %s", out[0], want)
	}
	back, err := parseML(out[0])
	if err != nil || len(back) != 3 {
		t.Fatalf("parse back %v %v", back, err)
	}
	var many []mlContact
	for i := 0; i < 1000; i++ {
		many = append(many, mlContact{Passport: fmt.Sprintf("user%04d@d%d.example.com", i, i%7), Lists: FL | AL})
	}
	parts := buildML(many, true, adlSplitBytes)
	if len(parts) < 5 {
		t.Fatalf("only %d parts", len(parts))
	}
	total := 0
	for _, p := range parts {
		if len(p) > adlSplitBytes {
			t.Errorf("part of %d bytes", len(p))
		}
		cs, err := parseML(p)
		if err != nil {
			t.Fatalf("part does not parse: %v", err)
		}
		total += len(cs)
	}
	if total != len(many) {
		t.Errorf("%d contacts after split, want %d", total, len(many))
	}
	if got := buildML(nil, true, adlSplitBytes); len(got) != 1 || string(got[0]) != `<ml l="1"></ml>` {
		t.Errorf("empty initial list %q", got)
	}
}

func TestParseMLPush(t *testing.T) {
	cs, err := parseML([]byte(`<ml><d n="example.com"><c n="carol" t="1" l="8" f="Carol%20%28probe%29" /></d></ml>`))
	if err != nil || len(cs) != 1 || cs[0].Passport != "carol@example.com" || cs[0].Lists != RL || cs[0].FriendlyName != "Carol (probe)" {
		t.Fatalf("%+v %v", cs, err)
	}
	for _, bad := range []string{"", "<ml>", `<ml><d n=""><c n="x"/></d></ml>`, `<ml><d n="a"><c n="x" l="9999"/></d></ml>`, "<x/>"} {
		if _, err := parseML([]byte(bad)); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestParseUBX(t *testing.T) {
	d, err := parseUBX([]byte(`<Data><PSM>a &amp; b &#x3C;3</PSM><CurrentMedia>\0Music\01\0{0} - {1}\0Title\0Artist\0</CurrentMedia><MachineGuid>{X}</MachineGuid><EndpointData id="{e1}"><Capabilities>1:2</Capabilities></EndpointData><PrivateEndpointData id="{e1}"><EpName>pc</EpName><State>NLN</State></PrivateEndpointData></Data>`))
	if err != nil {
		t.Fatal(err)
	}
	if d.PSM != "a & b <3" || !strings.HasPrefix(d.CurrentMedia, `\0Music`) || len(d.Endpoints) != 1 || d.Endpoints[0].Capabilities != "1:2" || d.Private[0].EpName != "pc" {
		t.Errorf("%+v", d)
	}
	if d, err := parseUBX(nil); err != nil || d.PSM != "" {
		t.Errorf("empty: %+v %v", d, err)
	}
	if _, err := parseUBX([]byte("<Data><PSM>x</Data>")); err == nil {
		t.Error("malformed accepted")
	}
}

func TestParseMIME(t *testing.T) {
	m, err := parseMIME([]byte("MIME-Version: 1.0\r\nContent-Type: text/x-msmsgsprofile; charset=UTF-8\r\nMSPAuth: abc:def\r\n\r\nbody"))
	if err != nil || m.contentType() != "text/x-msmsgsprofile" || m.Headers["mspauth"] != "abc:def" || string(m.Body) != "body" {
		t.Fatalf("%+v %v", m, err)
	}
	if _, err := parseMIME([]byte("no colon here\r\n\r\n")); err == nil {
		t.Error("bad header accepted")
	}
	if _, err := parseMIME([]byte(strings.Repeat("a: b\r\n", maxMIMEHeaders+1))); err == nil {
		t.Error("too many headers accepted")
	}
}
