package p2p

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// frame returns the MIME headers and the P2P frame of a transcript MSG payload.
func frame(t testing.TB, name string) (headers string, body []byte) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "transcript", name))
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(raw, []byte("\r\n\r\n"))
	if i < 0 {
		t.Fatalf("%s: no header end", name)
	}
	return string(raw[:i+4]), raw[i+4:]
}

// header returns a MIME header value of a transcript payload.
func header(headers, name string) string {
	for _, line := range strings.Split(headers, "\r\n") {
		if n, v, ok := strings.Cut(line, ":"); ok && strings.EqualFold(n, name) {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func mustPacket(t testing.TB, b []byte) *Packet {
	t.Helper()
	p, err := ParsePacket(b)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestTranscriptFramesRoundTrip: every captured P2P frame parses, encodes back to the same
// bytes, and its header fields are those the capture's index lists.
func TestTranscriptFramesRoundTrip(t *testing.T) {
	names, _ := filepath.Glob(filepath.Join("testdata", "transcript", "*.msg"))
	if len(names) < 20 {
		t.Fatalf("%d transcript frames", len(names))
	}
	for _, n := range names {
		_, body := frame(t, filepath.Base(n))
		p := mustPacket(t, body)
		if got := p.Bytes(); !bytes.Equal(got, body) {
			t.Errorf("%s: re-encoded frame differs", n)
		}
	}
	want := map[string]struct {
		h      Header
		footer uint32
	}{
		// 03-file-decline.txt: bob's INVITE, carol's 603 and her ACK of the INVITE.
		"03.bob-3.msg":   {Header{Identifier: 1804289387, TotalSize: 1193, MessageSize: 1193, AckID: 304089172}, 0},
		"03.carol-2.msg": {Header{Identifier: 1804289387, TotalSize: 332, MessageSize: 332, AckID: 1681692777}, 0},
		"03.carol-3.msg": {Header{Identifier: 1804289388, TotalSize: 1193, Flags: FlagAck, AckID: 1804289387, AckUID: 304089172, AckSize: 1193}, 0},
		// 01-dp-fetch.bin-index.txt: data preparation and MSNObject data (footer 1).
		"01.carol-4.msg": {Header{SessionID: 846930890, Identifier: 1804289388, TotalSize: 4, MessageSize: 4, AckID: 1714636915}, 0},
		"01.carol-6.msg": {Header{SessionID: 846930890, Identifier: 1804289389, Offset: 1202, TotalSize: 4238, MessageSize: 1202, Flags: FlagObjectData, AckID: 1957747793}, 1},
		// 02-file-3k.bin-index.txt: the last file-data chunk (flags 0x1000030, footer 0).
		"02.bob-8.msg": {Header{SessionID: 846930890, Identifier: 1804289388, Offset: 2404, TotalSize: 3000, MessageSize: 596, Flags: FlagWLMFile, AckID: 1303455736}, 0},
	}
	for name, w := range want {
		_, body := frame(t, name)
		p := mustPacket(t, body)
		if p.Header != w.h || p.Footer != w.footer {
			t.Errorf("%s: header %+v footer %d, want %+v footer %d", name, p.Header, p.Footer, w.h, w.footer)
		}
	}
	_, body := frame(t, "02.bob-8.msg")
	if h := mustPacket(t, body).Header; !h.IsLastChunk() || h.IsAck() {
		t.Error("last data chunk not recognised")
	}
	_, body = frame(t, "03.carol-3.msg")
	if h := mustPacket(t, body).Header; !h.IsAck() {
		t.Error("ACK not recognised")
	}
}

// TestParseSLPTranscriptInvite: the captured file-transfer INVITE, field by field, and back to
// its bytes.
func TestParseSLPTranscriptInvite(t *testing.T) {
	_, body := frame(t, "03.bob-3.msg")
	p := mustPacket(t, body)
	m, err := ParseSLP(p.Data)
	if err != nil {
		t.Fatal(err)
	}
	if m.Method != "INVITE" || m.Target != "MSNMSGR:carol@example.com" || m.StartLine() != "INVITE MSNMSGR:carol@example.com MSNSLP/1.0" {
		t.Errorf("start line %q %q", m.Method, m.Target)
	}
	if m.To() != "carol@example.com" || m.From() != "bob@example.com" || m.CSeq() != 0 ||
		m.Branch() != "{4006A774-4034-2698-4AEB-B61447858F8A}" || m.CallID() != "{8147455F-1BE9-9E6D-1C6E-4BEA8B3E9C46}" ||
		m.ContentType() != ContentSessionReq || len(m.Body) != 864 || m.Body[len(m.Body)-1] != 0 {
		t.Errorf("headers %+v, body %d bytes", m.Headers, len(m.Body))
	}
	fs := m.BodyFields()
	if fs.Get("EUF-GUID") != EUFGUIDFileTransfer || fs.Get("AppID") != "2" || len(fs.Get("Context")) != 768 {
		t.Errorf("body fields %+v", fs)
	}
	if id, ok := m.SessionID(); !ok || id != 846930890 {
		t.Errorf("SessionID %d %v", id, ok)
	}
	if fi, ok := FileOffer(m); !ok || fi.Name != "hello.txt" || fi.Size != 3000 {
		t.Errorf("file offer %+v %v", fi, ok)
	}
	if fi, ok := FileOfferIn(body); !ok || fi.Name != "hello.txt" || fi.Size != 3000 {
		t.Errorf("file offer in frame %+v %v", fi, ok)
	}
	if !bytes.Equal(m.Bytes(), p.Data) {
		t.Errorf("re-encoded INVITE differs:\n%q\n%q", m.Bytes(), p.Data)
	}
	// The display-picture INVITE of scenario 1 is no file offer.
	_, body = frame(t, "01.bob-3.msg")
	dp, err := ParseSLP(mustPacket(t, body).Data)
	if err != nil || dp.BodyFields().Get("EUF-GUID") != EUFGUIDMSNObject || dp.BodyFields().Get("AppID") != "1" {
		t.Fatalf("DP INVITE %+v %v", dp, err)
	}
	if _, ok := FileOffer(dp); ok {
		t.Error("DP INVITE taken for a file offer")
	}
	// Responses parse too.
	_, body = frame(t, "03.carol-2.msg")
	r, err := ParseSLP(mustPacket(t, body).Data)
	if err != nil || r.IsRequest() || r.StatusCode != 603 || r.Reason != "Decline" || r.CSeq() != 1 {
		t.Fatalf("603 %+v %v", r, err)
	}
}

// TestDeclineLikeTranscript: a fake peer's INVITE (the captured bytes of bob's file offer)
// gets an ACK and a 603 Decline whose fields are those carol's client sent in the capture;
// the SLP text is byte-identical.
func TestDeclineLikeTranscript(t *testing.T) {
	mime, invite := frame(t, "03.bob-3.msg")
	r := NewResponder("carol@example.com", "")
	out, err := r.Handle("bob@example.com", header(mime, "P2P-Dest"), header(mime, "P2P-Src"), invite)
	if err != nil {
		t.Fatal(err)
	}
	if !out.Declined || out.NotForUs || out.SLP == nil || len(out.Replies) != 2 {
		t.Fatalf("outcome %+v", out)
	}
	for _, f := range out.Replies {
		if f.Dest != "bob@example.com" {
			t.Errorf("reply to %q", f.Dest)
		}
	}
	ack := mustPacket(t, out.Replies[0].Data)
	_, wantAckBody := frame(t, "03.carol-3.msg")
	wantAck := mustPacket(t, wantAckBody)
	got, want := ack.Header, wantAck.Header
	got.Identifier, want.Identifier = 0, 0
	if got != want || ack.Footer != 0 || len(ack.Data) != 0 {
		t.Errorf("ACK %+v, want %+v", ack.Header, wantAck.Header)
	}

	declineMIME, declineBody := frame(t, "03.carol-2.msg")
	want603 := mustPacket(t, declineBody)
	dec := mustPacket(t, out.Replies[1].Data)
	if !bytes.Equal(dec.Data, want603.Data) {
		t.Errorf("603 differs from the capture:\n%q\n%q", dec.Data, want603.Data)
	}
	m, err := ParseSLP(dec.Data)
	if err != nil {
		t.Fatal(err)
	}
	w, _ := ParseSLP(want603.Data)
	if m.StatusCode != 603 || m.CallID() != w.CallID() || m.Branch() != w.Branch() || m.To() != w.To() || m.From() != w.From() || m.CSeq() != 1 {
		t.Errorf("603 fields %+v", m.Headers)
	}
	if id, _ := m.SessionID(); id != 846930890 {
		t.Errorf("603 SessionID %d", id)
	}
	h := dec.Header
	if h.SessionID != 0 || h.Offset != 0 || h.TotalSize != 332 || h.MessageSize != 332 || h.Flags != 0 || h.AckID == 0 || h.AckUID != 0 || h.AckSize != 0 || dec.Footer != 0 {
		t.Errorf("603 header %+v footer %d", h, dec.Footer)
	}
	if h.Identifier == ack.Header.Identifier {
		t.Error("ACK and 603 share an Identifier")
	}
	payload, err := MessagePayload(out.Replies[1].Dest, out.Replies[1].Data)
	if err != nil || !strings.HasPrefix(string(payload), declineMIME) || len(payload) != 472 {
		t.Errorf("MSG payload %q… (%d bytes), want the capture's headers and 472 bytes", payload[:min(len(payload), 100)], len(payload))
	}
}

// TestResponderAddressing: what is addressed to another participant or another endpoint of
// ours is ignored; an INVITE to our own endpoint (MSNP16+) is declined from that endpoint;
// ACKs, data and responses get no decline.
func TestResponderAddressing(t *testing.T) {
	_, invite := frame(t, "03.bob-3.msg")
	const guid = "{5e3edfe5-440d-5132-a3f3-a7ae35275c64}"
	r := NewResponder("carol@example.com", guid)
	for _, dest := range []string{"dave@example.com", "carol@example.com;{00000000-0000-0000-0000-000000000001}"} {
		if out, err := r.Handle("bob@example.com", dest, "", invite); err != nil || !out.NotForUs || len(out.Replies) != 0 {
			t.Errorf("dest %s: %+v %v", dest, out, err)
		}
	}
	// SLP addressed to another endpoint of ours (P2P-Dest bare, as P2Pv1 has it).
	p := mustPacket(t, invite)
	m, _ := ParseSLP(p.Data)
	retarget := func(to string) []byte {
		c := *m
		c.Headers = append(Fields(nil), m.Headers...)
		for i := range c.Headers {
			if c.Headers[i].Name == "To" {
				c.Headers[i].Value = "<msnmsgr:" + to + ">"
			}
		}
		h := p.Header
		h.TotalSize = uint64(len(c.Bytes()))
		return (&Packet{Header: h, Data: c.Bytes()}).Bytes()
	}
	if out, err := r.Handle("bob@example.com", "carol@example.com", "", retarget("carol@example.com;{00000000-0000-0000-0000-000000000002}")); err != nil || !out.NotForUs || len(out.Replies) != 0 {
		t.Errorf("SLP for another endpoint: %+v %v", out, err)
	}
	out, err := r.Handle("bob@example.com", "carol@example.com", "", retarget("carol@example.com;"+strings.ToUpper(guid)))
	if err != nil || !out.Declined || len(out.Replies) != 2 {
		t.Fatalf("SLP for our endpoint: %+v %v", out, err)
	}
	dec, _ := ParseSLP(mustPacket(t, out.Replies[1].Data).Data)
	if dec.From() != "carol@example.com;"+strings.ToUpper(guid) || dec.To() != "bob@example.com" {
		t.Errorf("603 From %q To %q", dec.From(), dec.To())
	}
	for _, name := range []string{"03.carol-3.msg", "01.carol-5.msg", "03.carol-2.msg"} {
		_, b := frame(t, name)
		out, err := NewResponder("bob@example.com", "").Handle("carol@example.com", "bob@example.com", "", b)
		if err != nil || out.Declined {
			t.Errorf("%s: %+v %v", name, out, err)
		}
		wantReplies := 0
		if name == "03.carol-2.msg" {
			wantReplies = 1 // a response to us is acknowledged, not declined
		}
		if len(out.Replies) != wantReplies {
			t.Errorf("%s: %d replies", name, len(out.Replies))
		}
	}
}

// TestSplitInviteIsAssembled: an INVITE split over two chunks (as WLM sends its file offers) is
// declined once complete; chunks out of order or beyond the bounds are errors.
func TestSplitInviteIsAssembled(t *testing.T) {
	_, invite := frame(t, "03.bob-3.msg")
	p := mustPacket(t, invite)
	base := p.Header
	base.MessageSize = 0
	chunks := []*Packet{
		{Header: base, Data: p.Data[:1190]},
		{Header: base, Data: p.Data[1190:]},
	}
	chunks[1].Header.Offset = 1190
	r := NewResponder("carol@example.com", "")
	out, err := r.Handle("bob@example.com", "carol@example.com", "", chunks[0].Bytes())
	if err != nil || len(out.Replies) != 0 || out.SLP != nil {
		t.Fatalf("first chunk: %+v %v", out, err)
	}
	if fi, ok := FileOfferIn(chunks[0].Bytes()); !ok || fi.Name != "hello.txt" {
		t.Errorf("file offer in the first chunk: %+v %v", fi, ok)
	}
	out, err = r.Handle("bob@example.com", "carol@example.com", "", chunks[1].Bytes())
	if err != nil || !out.Declined || len(out.Replies) != 2 {
		t.Fatalf("second chunk: %+v %v", out, err)
	}
	if ack := mustPacket(t, out.Replies[0].Data).Header; ack.AckSize != 1193 || ack.AckID != base.Identifier {
		t.Errorf("ACK %+v", ack)
	}
	if _, err := r.Handle("bob@example.com", "carol@example.com", "", chunks[1].Bytes()); !errors.Is(err, ErrMalformed) {
		t.Errorf("chunk without its start: %v", err)
	}
	if r.asm.Pending() != 0 {
		t.Errorf("%d pending", r.asm.Pending())
	}
	big := base
	big.TotalSize = MaxSLPSize + 1
	if _, err := r.Handle("bob@example.com", "carol@example.com", "", (&Packet{Header: big, Data: []byte("x")}).Bytes()); !errors.Is(err, ErrTooLarge) {
		t.Errorf("oversized message: %v", err)
	}
	a := NewAssembler(AssemblerConfig{MaxPending: 2})
	for id := uint32(1); id <= 3; id++ {
		h := Header{Identifier: id, TotalSize: 10}
		if got, err := a.Add("x", &Packet{Header: h, Data: []byte("abc")}); got != nil || err != nil {
			t.Fatal(got, err)
		}
	}
	if a.Pending() != 2 {
		t.Errorf("pending %d, want 2", a.Pending())
	}
}

// v2Invite builds the shape of the captured WLM 2009 P2Pv2 INVITE (P2PV2.md §3.8 E1): TLP
// header with SYN|RAK and peer info, DLP header, SLP text, footer.
func v2Invite(slp []byte) []byte {
	tlp := []byte{0x18, 0x03, 0, 0, 0xe1, 0x62, 0x3d, 0xf3, 0x01, 0x0c, 0x00, 0x02, 0x00, 0x00, 0x00, 0x0e, 0x00, 0x00, 0x0f, 0x01, 0x00, 0x00, 0x00, 0x00}
	binary.BigEndian.PutUint16(tlp[2:], uint16(8+len(slp)))
	b := append(tlp, 0x08, 0x01, 0, 0, 0, 0, 0, 0)
	b = append(b, slp...)
	return append(b, 0, 0, 0, 0)
}

// TestP2Pv2IsRefused: P2Pv2 packets are recognised and refused with ErrP2Pv2, never read as
// P2Pv1, with or without the endpoint headers, and the Responder sends nothing.
func TestP2Pv2IsRefused(t *testing.T) {
	_, invite := frame(t, "03.bob-3.msg")
	slp := mustPacket(t, invite).Data
	packets := map[string][]byte{
		"INVITE (E1)":     v2Invite(slp),
		"plain ACK (E5)":  {0x10, 0, 0, 0, 0x2f, 0x81, 0x2a, 0x19, 0x02, 0x04, 0x8f, 0xe7, 0x8f, 0xc1, 0, 0, 0, 0, 0, 0},
		"pure RAK (E4)":   {0x08, 0x02, 0, 0, 0xe0, 0x93, 0xf1, 0x0b, 0, 0, 0, 0},
		"data prep (E6)":  {0x08, 0, 0, 0x0c, 0xdf, 0x32, 0x36, 0x79, 0x08, 0x01, 0, 0, 0x6c, 0x99, 0xfb, 0xc2, 0, 0, 0, 0, 0, 0, 0, 0},
		"SYN|RAK ACK(E2)": {0x1c, 0x03, 0, 0, 0x26, 0x3e, 0xfe, 0x3e, 0x02, 0x04, 0xd3, 0xb7, 0x94, 0xcf, 0x01, 0x0c, 0, 0x02, 0, 0, 0, 0x0e, 0x61, 0x6e, 0x0f, 0x01, 0, 0, 0, 0, 0, 0},
	}
	for name, b := range packets {
		if _, err := ParsePacket(b); !errors.Is(err, ErrP2Pv2) {
			t.Errorf("%s: ParsePacket %v", name, err)
		}
		if _, err := ParseFrame("carol@example.com;{77c46a8f-0000-0000-0000-000000000000}", "bob@example.com;{f52973b6-0000-0000-0000-000000000000}", b); !errors.Is(err, ErrP2Pv2) {
			t.Errorf("%s: ParseFrame %v", name, err)
		}
		out, err := NewResponder("carol@example.com", "").Handle("bob@example.com", "carol@example.com", "", b)
		if !errors.Is(err, ErrP2Pv2) || len(out.Replies) != 0 {
			t.Errorf("%s: Handle %+v %v", name, out, err)
		}
	}
}

// TestMalformedFrames: bad sizes are errors, never panics.
func TestMalformedFrames(t *testing.T) {
	_, ack := frame(t, "03.carol-3.msg")
	_, inv := frame(t, "03.bob-3.msg")
	cases := map[string][]byte{
		"empty":             nil,
		"header only":       ack[:HeaderSize],
		"short data":        inv[:len(inv)-10],
		"extra byte":        append(append([]byte(nil), inv...), 0),
		"offset past total": func() []byte { b := append([]byte(nil), ack...); b[15] = 0x01; return b }(),
		"huge size":         func() []byte { b := append([]byte(nil), ack...); b[27] = 0x7f; return b }(),
	}
	for name, b := range cases {
		if _, err := ParsePacket(b); err == nil || errors.Is(err, ErrP2Pv2) {
			t.Errorf("%s: %v", name, err)
		}
	}
	for name, s := range map[string]string{
		"no start line end":  "INVITE MSNMSGR:a MSNSLP/1.0",
		"no blank line":      "INVITE MSNMSGR:a MSNSLP/1.0\r\nTo: <msnmsgr:a>\r\n",
		"bad status":         "MSNSLP/1.0 abc Decline\r\n\r\n",
		"short start line":   "INVITE\r\n\r\n",
		"wrong version":      "INVITE MSNMSGR:a SIP/2.0\r\n\r\n",
		"bad header":         "INVITE MSNMSGR:a MSNSLP/1.0\r\nno colon here\r\n\r\n",
		"length beyond body": "INVITE MSNMSGR:a MSNSLP/1.0\r\nContent-Length: 99\r\n\r\nabc",
		"negative length":    "INVITE MSNMSGR:a MSNSLP/1.0\r\nContent-Length: -1\r\n\r\n",
	} {
		if _, err := ParseSLP([]byte(s)); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := ParseSLP(make([]byte, MaxSLPSize+1)); !errors.Is(err, ErrTooLarge) {
		t.Errorf("oversized SLP: %v", err)
	}
	if _, err := ParseFileContext("AAAA"); !errors.Is(err, ErrMalformed) {
		t.Errorf("short context: %v", err)
	}
	if _, err := MessagePayload("a\r\nb", nil); err == nil {
		t.Error("header injection accepted")
	}
}
