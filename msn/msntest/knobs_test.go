package msntest

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// onlineMSNP11 logs in passport with MSNP11 through CHG and returns the client after the
// initial burst, and the burst's lines before the mail data.
func onlineMSNP11(t *testing.T, s *Server, email, pw string) (*client, []string) {
	c := login(t, s, 11, email, pw, "")
	c.send("CHG 5 NLN 1073741824")
	c.expect("CHG 5 NLN 1073741824")
	var burst []string
	for {
		cmd := c.read()
		if cmd.Name == "MSG" {
			return c, burst
		}
		burst = append(burst, lineOf(cmd))
	}
}

func TestPresenceKnobs(t *testing.T) {
	s := newServer(t, Options{})
	aliceBob(t, s)
	bob, _ := onlineMSNP11(t, s, "bob@example.com", "bobpass1")
	must(t, s.SetPresence("alice@example.com", "AWY"))
	bob.expect("NLN AWY alice@example.com alice@example.com 1073741824 %3Cmsnobj%2F%3E")
	must(t, s.SetPersonalMessage("alice@example.com", "gone <fishing> & back"))
	ubx := bob.expect("UBX alice@example.com *")
	if string(ubx.Payload) != "<Data><PSM>gone &lt;fishing&gt; &amp; back</PSM><CurrentMedia></CurrentMedia></Data>" {
		t.Fatalf("UBX payload %q", ubx.Payload)
	}
	must(t, s.SetFriendlyName("alice@example.com", "Alice Away"))
	bob.expect("NLN AWY alice@example.com Alice%20Away 1073741824 %3Cmsnobj%2F%3E")
	must(t, s.SetPresence("alice@example.com", "FLN"))
	bob.expect("FLN alice@example.com")
	if st := s.Status("alice@example.com"); st != "FLN" {
		t.Fatalf("Status = %s", st)
	}
	if err := s.SetPresence("alice@example.com", "XXX"); err == nil {
		t.Fatal("invalid status accepted")
	}
}

func TestRealPresenceReachesWatchersPerVersion(t *testing.T) {
	s := newServer(t, Options{})
	aliceBob(t, s)
	must(t, s.AddAccount("carol@example.com", "carolpass1", "Carol"))
	must(t, s.AddContact("carol@example.com", "alice@example.com", FL|AL))
	bob := login(t, s, 15, "bob@example.com", "bobpass1", "")
	bob.send("CHG 5 NLN 1342177280 0")
	bob.expect("CHG 5 NLN 1342177280 0")
	bob.expect("MSG Hotmail Hotmail 195")
	carol := login(t, s, 18, "carol@example.com", "carolpass1", bobGUID)
	carol.send("CHG 5 NLN 2789003324:48 0")
	carol.expect("CHG 5 NLN 2789003324:48 0")
	carol.expect("MSG Hotmail Hotmail 195")
	carol.expect("NLN NLN 1:carol@example.com Carol 2789003324:48 0")
	carol.expect("UBX 1:carol@example.com *")
	alice := login(t, s, 16, "alice@example.com", "alicepass1", aliceGUID)
	alice.send("CHG 5 BSY 2789003324:48 0")
	alice.expect("CHG 5 BSY 2789003324:48 0")
	alice.expect("ILN 5 NLN bob@example.com 1 bob@example.com 1342177280:0 0")
	alice.expect("UBX bob@example.com 1 *")
	alice.expect("MSG Hotmail Hotmail 195")
	alice.expect("NLN BSY alice@example.com 1 alice@example.com 2789003324:48 0")
	alice.expect("UBX alice@example.com 1 *")
	bob.expect("NLN BSY alice@example.com 1 alice@example.com 2789003324 0")
	carol.expect("NLN BSY 1:alice@example.com alice@example.com 2789003324:48 0")
	carol.expect("UBX 1:alice@example.com *")
	alice.sendPayload("UUX 6", "<Data><PSM>hi</PSM><CurrentMedia></CurrentMedia></Data>")
	alice.expect("UUX 6 0")
	bob.expect("UBX alice@example.com 1 *")
	carol.expect("UBX 1:alice@example.com *")
	alice.send("CHG 7 HDN 2789003324:48 0")
	bob.expect("FLN alice@example.com 1 0")
	carol.expect("FLN 1:alice@example.com 0:0")
	if s.PersonalMessage("alice@example.com") != "hi" {
		t.Fatalf("PSM not stored")
	}
}

func TestKickDropSilentDropAfter(t *testing.T) {
	s := newServer(t, Options{})
	aliceBob(t, s)
	bob, _ := onlineMSNP11(t, s, "bob@example.com", "bobpass1")
	alice, burst := onlineMSNP11(t, s, "alice@example.com", "alicepass1")
	if len(burst) != 2 || burst[0] != "ILN 5 NLN bob@example.com bob@example.com 1073741824 %3Cmsnobj%2F%3E" {
		t.Fatalf("burst %q", burst)
	}
	bob.expect("NLN NLN alice@example.com alice@example.com 1073741824 %3Cmsnobj%2F%3E")
	if n := s.Kick("alice@example.com", "SSD"); n != 1 {
		t.Fatalf("Kick = %d", n)
	}
	alice.expect("OUT SSD")
	alice.expectClosed()
	bob.expect("FLN alice@example.com")
	if n := s.DropConnections("bob@example.com"); n != 1 {
		t.Fatalf("DropConnections = %d", n)
	}
	bob.expectClosed()

	s.SetSilent(true)
	c := dial(t, "silent", s.NSAddr())
	c.send("VER 1 MSNP8 CVR0")
	c.expectSilence(quietWindow)
	s.SetSilent(false)
	s.SetDropAfter(2)
	c = dial(t, "drop", s.NSAddr())
	c.send("VER 1 MSNP8 CVR0")
	c.expect("VER 1 MSNP8")
	c.send("CVR 2 0x0409 winnt 5.1 i386 MSNMSGR 6.2.0205 msmsgs a@b.c")
	c.expect("CVR 2 *rest")
	c.expectClosed()
}

func TestChallenges(t *testing.T) {
	for _, tc := range []struct {
		ver      int
		pid, key string
	}{
		{8, "msmsgs@msnmsgr.com", "Q1P7W2E4J9R8U3S5"},
		{15, "PROD0119GSJUC$18", "ILTXC!4IXB5FB*PX"},
	} {
		s := newServer(t, Options{})
		aliceBob(t, s)
		c := login(t, s, tc.ver, "alice@example.com", "alicepass1", "")
		chl, err := s.SendChallenge("alice@example.com")
		must(t, err)
		c.expect("CHL 0 " + chl)
		c.sendPayload("QRY 5 "+tc.pid, challengeAnswer(tc.ver, chl, tc.pid, tc.key))
		c.expect("QRY 5")
		chl, err = s.SendChallenge("alice@example.com")
		must(t, err)
		c.expect("CHL 0 " + chl)
		c.sendPayload("QRY 6 "+tc.pid, strings.Repeat("0", 32))
		c.expect("540 6")
		c.expectClosed()
	}
}

func TestChallengeVectors(t *testing.T) {
	for _, v := range []struct {
		ver           int
		chl, pid, key string
		want          string
	}{
		{8, "15570131571988941333", "msmsgs@msnmsgr.com", "Q1P7W2E4J9R8U3S5", "8f2f5a91b72102cd28355e9fc9000d6e"},
		{11, "22210219642164014968", "PROD0090YUAUV{2B", "YMM8C_H7KCQ2S_KL", "85ecb0db8f32113df79ce0892b9a102c"},
		{11, "13038318816579321232", "PROD0101{0RM?UBW", "CFHUR$52U_{VIX5T", "5f6ae998b8fa70c37b62980f71a0e736"},
		{13, "15570131571988941333", "PROD01065C%ZFN6F", "O4BG@C7BWLYQX?5G", "47d2b1e24f85947bdd29b3bfe29f027b"},
		{15, "237191752526424888127371168", "PROD0113H11T8$X_", "RG@XY*28Q5QHS%Q5", "65b6b623c649c25629af048d34066040"},
		{11, "123456789012345678901234", "PROD0090YUAUV{2B", "YMM8C_H7KCQ2S_KL", "948035b948c0318ad3fc5287620769f4"},
	} {
		if got := challengeAnswer(v.ver, v.chl, v.pid, v.key); got != v.want {
			t.Errorf("challenge %s/%s = %s, want %s", v.chl, v.pid, got, v.want)
		}
	}
}

func TestMBIVectors(t *testing.T) {
	for _, v := range []struct{ secret, nonce, blob string }{
		{"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", strings.Repeat("A", 63) + "=", "HAAAAAEAAAADZgAABIAAAAgAAAAUAAAASAAAAAAAAAAAAAAA7XgT5ohvaZdoXdrWUUcMF2G8OK2JohyYcK5l5MJSitab33scxJeK/RQXcUr0L+R2ZA9CEAzn0izmUzSMp2LZdxSbHtnuxCmptgtoScHp9E26HjQVkA9YJxgK/HM="},
		{"BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB=", strings.Repeat("B", 63) + "=", "HAAAAAEAAAADZgAABIAAAAgAAAAUAAAASAAAAAAAAAAAAAAAywfWRZVnRRZTqPkW6HBIrOmPuYiFbzcpvYmP2QzhpH+VdKwtqUTt/gdbDqlMZvR1o7ve9ex44otMOxYtnNYIQ+lfoj+PKcsHT+T7GA1hfMsTVbGqoYYe3B5/WW0="},
	} {
		got, err := makeMBI(v.secret, v.nonce, make([]byte, 8))
		must(t, err)
		if got != v.blob {
			t.Errorf("makeMBI = %s, want %s", got, v.blob)
		}
		if !verifyMBI(v.secret, v.nonce, v.blob) {
			t.Errorf("verifyMBI rejects the vector")
		}
		if verifyMBI(v.secret, v.nonce+"x", v.blob) || verifyMBI(v.secret, v.nonce, "bm90IGEgYmxvYg==") {
			t.Errorf("verifyMBI accepts a wrong nonce or blob")
		}
	}
}

func TestAddedByPerVersion(t *testing.T) {
	s := newServer(t, Options{})
	for _, p := range []string{"a8@example.com", "a11@example.com", "a18@example.com", "carol@example.com"} {
		must(t, s.AddAccount(p, "pw", ""))
	}
	must(t, s.SetFriendlyName("carol@example.com", "Carol (probe)"))
	c8 := login(t, s, 8, "a8@example.com", "pw", "")
	c11 := login(t, s, 11, "a11@example.com", "pw", "")
	c18 := login(t, s, 18, "a18@example.com", "pw", aliceGUID)
	for _, p := range []string{"a8@example.com", "a11@example.com", "a18@example.com"} {
		must(t, s.AddedBy(p, "carol@example.com"))
	}
	c8.expect("ADD 0 RL 1 carol@example.com Carol%20(probe)")
	c11.expect("ADC 0 RL N=carol@example.com F=Carol%20(probe)")
	not := c11.expect("NOT *")
	if !strings.Contains(string(not.Payload), "&lt;Service&gt;ABCHInternal&lt;/Service&gt;") {
		t.Fatalf("NOT payload %q", not.Payload)
	}
	adl := c18.expect("ADL 0 *")
	if string(adl.Payload) != `<ml><d n="example.com"><c n="carol" t="1" l="8" f="Carol%20%28probe%29" /></d></ml>` {
		t.Fatalf("ADL 0 payload %q", adl.Payload)
	}
	c18.expect("NOT *")
	if s.Lists("a18@example.com", "carol@example.com")&(RL|PL) != RL|PL || s.Lists("carol@example.com", "a18@example.com")&FL == 0 {
		t.Fatal("lists not updated")
	}
}

func TestCommandHook(t *testing.T) {
	s := newServer(t, Options{})
	aliceBob(t, s)
	var mu sync.Mutex
	var seen []string
	s.OnCommand(func(ev CommandEvent) {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, ev.Service+":"+ev.Passport+":"+ev.Command.Name)
	})
	c := login(t, s, 8, "alice@example.com", "alicepass1", "")
	c.send("PNG")
	c.expect("QNG")
	mu.Lock()
	defer mu.Unlock()
	want := []string{"NS::VER", "NS::CVR", "NS::USR", "NS::USR", "NS:alice@example.com:PNG"}
	if strings.Join(seen, ",") != strings.Join(want, ",") {
		t.Fatalf("hook saw %v, want %v", seen, want)
	}
}

func TestWaitLoggedIn(t *testing.T) {
	s := newServer(t, Options{})
	aliceBob(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := s.WaitLoggedIn(ctx, "alice@example.com"); err == nil {
		t.Fatal("WaitLoggedIn succeeded without a login")
	}
	_, _ = onlineMSNP11(t, s, "alice@example.com", "alicepass1")
	ctx2, cancel2 := context.WithTimeout(context.Background(), ioTimeout)
	defer cancel2()
	must(t, s.WaitLoggedIn(ctx2, "alice@example.com"))
}

func TestLogsCarryNoSecrets(t *testing.T) {
	var buf safeBuffer
	log := zerolog.New(&buf).Level(zerolog.DebugLevel)
	s := newServer(t, Options{Logger: &log})
	aliceBob(t, s)
	md5c := login(t, s, 7, "alice@example.com", "alicepass1", "")
	tw := login(t, s, 12, "bob@example.com", "bobpass1", "")
	tw.send("CHG 5 NLN 0 0")
	tw.expect("CHG 5 NLN 0 0")
	tw.expect("MSG Hotmail Hotmail 195")
	x := tw.expectXFR("6", s.SBAddr(), "")
	sb := dial(t, "bob SB", s.SBAddr())
	sb.send("USR 1 bob@example.com " + x)
	sb.expect("USR 1 OK *rest")
	md5c.send("PNG")
	md5c.expect("QNG")
	out := buf.String()
	if !strings.Contains(out, "NS login") || !strings.Contains(out, "SB <<<") {
		t.Fatalf("no login logged: %s", out)
	}
	for _, secret := range []string{"alicepass1", "bobpass1", strings.TrimPrefix(tw.ticket, "t="), x} {
		if strings.Contains(out, secret) {
			t.Fatalf("log contains a secret %q:\n%s", secret, out)
		}
	}
}

type safeBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *safeBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *safeBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
