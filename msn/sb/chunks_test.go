package sb

import (
	"testing"
	"time"
)

// TestIncompleteChunkedMessageIsDelivered: a chunked message whose last chunk never comes is
// delivered, once ChunkTimeout has passed with nothing else arriving, as what arrived, flagged
// Incomplete with the number of chunks missing; later messages are unaffected.
func TestIncompleteChunkedMessageIsDelivered(t *testing.T) {
	e := newEnv(t, 12, Config{ChunkTimeout: 200 * time.Millisecond})
	c, pc := e.acceptInvite(t, Invitation{SessionID: "1", Cookie: "2", Inviter: "bob@example.com", InviterName: "Bob"}, "bob@example.com Bob%20B 1073741824")
	waitEvent[*JoinedEvent](t, e.rec)
	const hdr = "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\nX-MMS-IM-Format: FN=Arial; EF=B; CO=ff; CS=0; PF=22\r\nMessage-ID: {CD}\r\n"
	start := time.Now() // the client sees the first chunk after this
	pc.sendMSG("bob@example.com", "Bob%20B", hdr+"Chunks: 3\r\n\r\nfirst part, ")
	pc.sendMSG("bob@example.com", "Bob%20B", hdr+"Chunk: 1\r\n\r\nsecond part")
	m := waitEvent[*MessageEvent](t, e.rec)
	if d := time.Since(start); d < 200*time.Millisecond {
		t.Errorf("incomplete message delivered after %v, before the chunk timeout", d)
	}
	if m.Conv != c || m.Text != "first part, second part" || !m.Incomplete || m.Missing != 1 {
		t.Fatalf("incomplete message %+v", m)
	}
	if m.Sender.Passport != "bob@example.com" || m.Sender.FriendlyName != "Bob B" || !m.Format.Bold || m.Format.Font != "Arial" {
		t.Errorf("sender %+v format %+v", m.Sender, m.Format)
	}
	pc.sendMSG("bob@example.com", "Bob%20B", "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\nnext one")
	if m := waitEvent[*MessageEvent](t, e.rec); m.Text != "next one" || m.Incomplete {
		t.Fatalf("next message %+v", m)
	}
}
