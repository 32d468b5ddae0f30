package ns

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/msnbridge/msnbridge/msn/wire"
)

// FuzzPresenceLine feeds ILN/NLN/FLN/UBX handle lines of any version to the parsers.
func FuzzPresenceLine(f *testing.F) {
	for _, s := range []string{
		"ILN 7 NLN bob@example.com bob%20b",
		"NLN NLN alice@example.com Alice%20(probe) 1073741824 %3Cmsnobj%2F%3E",
		"ILN 8 NLN bob@example.com 1 Bob%20(probe) 1342177280 %3Cmsnobj%2F%3E",
		"NLN NLN 1:bob@example.com Bob%20(probe) 2789003324:48 0",
		"NLN BRB 1:m@x.com;via=9:00000000-0000-0000-0009-000000000001@live.com M 0:0 0",
		"FLN 1:bob@example.com 0:0",
		"FLN bob@example.com 1 0",
	} {
		f.Add(s, 18)
		f.Add(s, 15)
	}
	f.Fuzz(func(t *testing.T, line string, version int) {
		c, _, err := wire.ParseLine(line, wire.FromServer)
		if err != nil {
			return
		}
		p, err := parsePresence(version, c.Args)
		if err == nil && (p.Passport == "" || len(p.Passport) > maxPassportLen || len(p.FriendlyName) > maxFriendlyName) {
			t.Fatalf("accepted bad presence %+v", p)
		}
		_, _ = parseFLN(version, c.Args)
		_, _ = ubxHandle(c.Args)
		_, _, _ = splitNetwork(line)
	})
}

// FuzzListLine feeds LST/LSG lines of any version to the SYN parsers.
func FuzzListLine(f *testing.F) {
	for _, s := range []struct {
		line string
		v    int
	}{
		{"LST 6 FL 1 1 1 alice@example.com alice@example.com 0", 7},
		{"LST 6 BL 1 0 0", 7},
		{"LSG 6 1 1 1 0 Other%20Contacts 0", 7},
		{"LST alice@example.com alice@example.com 11 0", 8},
		{"LSG 0 Other%20Contacts 0", 8},
		{"LST N=alice@example.com F=alice@example.com C=edc377f8-1aba-4180-8317-8f5f51713242 11 1 ", 12},
		{"LSG Friends 4b2c1d2e-0f11-4a3b-9c8d-7e6f5a4b3c2d", 10},
	} {
		f.Add(s.line, s.v)
	}
	f.Fuzz(func(t *testing.T, line string, version int) {
		c, _, err := wire.ParseLine(line, wire.FromServer)
		if err != nil {
			return
		}
		if e, err := parseLST(version, c); err == nil && e.Passport != "" && checkPassport(e.Passport) != nil {
			t.Fatalf("accepted bad passport %q", e.Passport)
		}
		_, _ = parseLSG(version, c)
	})
}

// FuzzMLPayload feeds ADL/RML payloads to the parser and round-trips what it accepts.
func FuzzMLPayload(f *testing.F) {
	f.Add([]byte(`<ml l="1"><d n="example.com"><c n="bob" l="3" t="1" /></d></ml>`))
	f.Add([]byte(`<ml><d n="example.com"><c n="carol" t="1" l="8" f="Carol%20%28probe%29" /></d></ml>`))
	f.Add([]byte(`<ml><d n="a.b"><c n="x" l="4" t="32"/><c n="y" l="1"/></d><d n="c.d"></d></ml>`))
	f.Fuzz(func(t *testing.T, payload []byte) {
		cs, err := parseML(payload)
		if err != nil {
			return
		}
		for _, p := range buildML(cs, false, adlSplitBytes) {
			back, err := parseML(p)
			if err != nil {
				t.Fatalf("rebuilt payload %q does not parse: %v", p, err)
			}
			_ = back
		}
	})
}

// FuzzUBXPayload feeds UBX payloads to the parser.
func FuzzUBXPayload(f *testing.F) {
	f.Add([]byte(`<Data><PSM>probe psm</PSM><CurrentMedia></CurrentMedia><MachineGuid>{5E3EDFE5-440D-5132-A3F3-A7AE35275C64}</MachineGuid><DDP></DDP><SignatureSound></SignatureSound><Scene></Scene><ColorScheme></ColorScheme><EndpointData id="{5e3edfe5-440d-5132-a3f3-a7ae35275c64}"><Capabilities>2789003324:48</Capabilities></EndpointData></Data>`))
	f.Add([]byte(`<Data><PSM>a &#x26; b</PSM><CurrentMedia>\0Music\01\0{0}\0T\0</CurrentMedia><PrivateEndpointData id="{x}"><EpName>pc</EpName><Idle>false</Idle><ClientType>1</ClientType><State>NLN</State></PrivateEndpointData></Data>`))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, payload []byte) {
		d, err := parseUBX(payload)
		if err != nil {
			return
		}
		eps := d.endpoints()
		if len(eps) > maxEndpoints {
			t.Fatalf("%d endpoints", len(eps))
		}
		seen := map[string]bool{}
		for _, e := range eps {
			k := strings.ToLower(e.ID)
			if k == "" || seen[k] {
				t.Fatalf("empty or duplicate endpoint id in %+v", eps)
			}
			seen[k] = true
		}
	})
}

// FuzzMIMEHeaders feeds NS MSG payloads (profile, mail data, system messages) to the parser.
func FuzzMIMEHeaders(f *testing.F) {
	f.Add([]byte(profilePayload))
	f.Add([]byte("MIME-Version: 1.0\r\nContent-Type: text/x-msmsgsinitialmdatanotification; charset=UTF-8\r\n\r\nMail-Data: <MD><E><I>0</I></E></MD>\r\n"))
	f.Add([]byte("MIME-Version: 1.0\r\nContent-Type: application/x-msmsgssystemmessage\r\n\r\nType: 1\r\nArg1: 5\r\n"))
	f.Fuzz(func(t *testing.T, payload []byte) {
		m, err := parseMIME(payload)
		if err != nil {
			return
		}
		if len(m.Headers) > maxMIMEHeaders {
			t.Fatalf("%d headers", len(m.Headers))
		}
		_ = m.contentType()
	})
}

// FuzzServerStream feeds arbitrary server bytes to a logged-in session: whatever arrives,
// the session must not panic and must end cleanly when the stream ends.
func FuzzServerStream(f *testing.F) {
	f.Add([]byte("ILN 8 NLN bob@example.com Bob 0 0\r\nUBX bob@example.com 35\r\n<Data><PSM>x</PSM></Data>\r\n\r\n\r\nRNG 1 a:1 CKI c i@x n\r\n"), 12)
	f.Add([]byte("ADL 0 83\r\n<ml><d n=\"example.com\"><c n=\"carol\" t=\"1\" l=\"8\" f=\"Carol%20%28probe%29\" /></d></ml>OUT OTH\r\n"), 18)
	f.Add([]byte("LST 1 FL 1 1 1 a@b a\r\nADD 0 RL 1 c@d c\r\nCHL 0 123\r\nQNG 5\r\nMSG Hotmail Hotmail 30\r\nContent-Type: text/x-msmsgsp\r\n\r\n"), 7)
	f.Add([]byte("UBN a@b 4 14\r\ngoawyplzthxbyeFLN 1:x@y 0:0\r\nXFR 0 NS 1.2.3.4:5 0\r\n"), 18)
	f.Fuzz(func(t *testing.T, data []byte, version int) {
		client, server := net.Pipe()
		cfg := Config{RequestTimeout: time.Second, PingInterval: time.Hour, Logger: zerolog.Nop()}
		s := newSession(cfg, "me@x.com", client)
		s.mu.Lock()
		s.version = version
		s.loggedIn = true
		s.sync = &syncState{trid: 1, done: make(chan struct{})}
		s.mu.Unlock()
		go func() {
			_ = server.SetWriteDeadline(time.Now().Add(2 * time.Second))
			_, _ = server.Write(data)
			server.Close()
		}()
		select {
		case <-s.Done():
		case <-time.After(5 * time.Second):
			t.Fatal("session did not end when the stream ended")
		}
		s.fail(nil)
		<-s.evDone
	})
}
