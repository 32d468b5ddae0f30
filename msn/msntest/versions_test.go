package msntest

import (
	"fmt"
	"strings"
	"testing"
)

// TestEveryVersionLogsInAndChats runs the transcript scenario for every MSNP version 2–18:
// both users log in with that version, bob comes online first, alice gets the initial
// presence in the version's shape, then they chat through a switchboard. The expected lines
// follow the per-version rules of the transcripts and FACTS §5.2/§6.
func TestEveryVersionLogsInAndChats(t *testing.T) {
	for ver := 2; ver <= 18; ver++ {
		t.Run(fmt.Sprintf("MSNP%d", ver), func(t *testing.T) {
			s := newServer(t, Options{})
			aliceBob(t, s)
			caps, chg := "", "CHG 5 NLN"
			switch {
			case ver == 8:
				caps, chg = "1073741824", "CHG 5 NLN 1073741824"
			case ver >= 9 && ver <= 15:
				caps, chg = "1073741824", "CHG 5 NLN 1073741824 %3Cmsnobj%2F%3E"
			case ver >= 16:
				caps, chg = "2789003324:48", "CHG 5 NLN 2789003324:48 %3Cmsnobj%2F%3E"
			}
			bobGUIDArg, aliceGUIDArg := "", ""
			if ver >= 16 {
				bobGUIDArg, aliceGUIDArg = bobGUID, aliceGUID
			}
			bob := login(t, s, ver, "bob@example.com", "bobpass1", bobGUIDArg)
			bob.send(chg)
			bob.expect(chg)
			skipTo := func(c *client, name string) {
				for c.read().Name != name {
				}
			}
			if ver >= 16 {
				skipTo(bob, "UBX") // mail data, self NLN, self UBX
			} else if ver >= 11 {
				skipTo(bob, "MSG")
			}
			alice := login(t, s, ver, "alice@example.com", "alicepass1", aliceGUIDArg)
			alice.send(chg)
			alice.expect(chg)
			var iln, nln string
			switch {
			case ver <= 7:
				iln, nln = "ILN 5 NLN bob@example.com bob@example.com", "NLN NLN alice@example.com alice@example.com"
			case ver == 8:
				iln, nln = "ILN 5 NLN bob@example.com bob@example.com 1073741824", "NLN NLN alice@example.com alice@example.com 1073741824"
			case ver <= 13:
				iln, nln = "ILN 5 NLN bob@example.com bob@example.com 1073741824 %3Cmsnobj%2F%3E", "NLN NLN alice@example.com alice@example.com 1073741824 %3Cmsnobj%2F%3E"
			case ver <= 15:
				iln, nln = "ILN 5 NLN bob@example.com 1 bob@example.com 1073741824 %3Cmsnobj%2F%3E", "NLN NLN alice@example.com 1 alice@example.com 1073741824 %3Cmsnobj%2F%3E"
			case ver <= 17:
				iln, nln = "ILN 5 NLN bob@example.com 1 bob@example.com 2789003324:48 %3Cmsnobj%2F%3E", "NLN NLN alice@example.com 1 alice@example.com 2789003324:48 %3Cmsnobj%2F%3E"
			default:
				iln, nln = "NLN NLN 1:bob@example.com bob@example.com 2789003324:48 %3Cmsnobj%2F%3E", "NLN NLN 1:alice@example.com alice@example.com 2789003324:48 %3Cmsnobj%2F%3E"
			}
			alice.expect(iln)
			bob.expect(nln)
			if ver >= 16 {
				bob.expect("UBX *rest")
				skipTo(alice, "UBX") // contact UBX
				skipTo(alice, "UBX") // self UBX after mail data and self NLN
			} else if ver >= 11 {
				alice.expect("UBX bob@example.com *rest")
				alice.expect("MSG Hotmail Hotmail 195")
			}

			xfrTail, rngTail := "", ""
			if ver >= 13 {
				xfrTail, rngTail = "U messenger.msn.com", " U messenger.hotmail.com"
			}
			if ver >= 14 {
				xfrTail, rngTail = xfrTail+" 1", rngTail+" 1"
			}
			x := alice.expectXFR("6", s.SBAddr(), xfrTail)
			asb := dial(t, "alice SB", s.SBAddr())
			aid, bid := "alice@example.com", "bob@example.com"
			if ver >= 16 {
				aid, bid = aid+";"+aliceGUID, bid+";"+bobGUID
			}
			asb.send("USR 1 " + aid + " " + x)
			asb.expect("USR 1 OK " + aid + " alice@example.com")
			asb.send("CAL 2 bob@example.com")
			sid := asb.expect("CAL 2 RINGING *").Args[1]
			rng := bob.expect("RNG " + sid + " " + s.SBAddr() + " CKI * alice@example.com alice@example.com" + rngTail)
			bsb := dial(t, "bob SB", s.SBAddr())
			bsb.send("ANS 1 " + bid + " " + rng.Args[3] + " " + sid)
			capsTail := ""
			if ver >= 12 {
				capsTail = " " + caps
			}
			if ver >= 16 {
				bsb.expect("IRO 1 1 2 alice@example.com;" + strings.ToLower(aliceGUID) + " alice@example.com" + capsTail)
				bsb.expect("IRO 1 2 2 alice@example.com alice@example.com" + capsTail)
			} else {
				bsb.expect("IRO 1 1 1 alice@example.com alice@example.com" + capsTail)
			}
			bsb.expect("ANS 1 OK")
			if ver >= 16 {
				asb.expect("JOI bob@example.com;" + strings.ToLower(bobGUID) + " bob@example.com" + capsTail)
				bsb.expect("JOI bob@example.com bob@example.com" + capsTail)
			}
			asb.expect("JOI bob@example.com bob@example.com" + capsTail)
			text := "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\nhello"
			asb.sendPayload("MSG 3 A", text)
			if got := bsb.expect("MSG alice@example.com alice@example.com *"); string(got.Payload) != text {
				t.Fatalf("payload %q", got.Payload)
			}
			asb.expect("ACK 3")
			asb.send("OUT")
			if ver >= 16 {
				bsb.expect("BYE alice@example.com;" + strings.ToLower(aliceGUID))
			} else {
				bsb.expect("BYE alice@example.com")
			}
			alice.send("PNG")
			if ver >= 9 {
				alice.expect("QNG 60")
			} else {
				alice.expect("QNG")
			}
			alice.send("OUT")
			alice.expectClosed()
			switch {
			case ver <= 13:
				bob.expect("FLN alice@example.com")
			case ver <= 15:
				bob.expect("FLN alice@example.com 1 0")
			case ver <= 17:
				bob.expect("FLN alice@example.com 1 0:0")
			default:
				bob.expect("FLN 1:alice@example.com 0:0")
			}
		})
	}
}
