package bridge

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/appservice"
	"maunium.net/go/mautrix/bridgev2"
	"maunium.net/go/mautrix/bridgev2/matrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"
)

// fakeCrypto is a matrix.Crypto whose Encrypt replaces the content with a marked ciphertext.
type fakeCrypto struct {
	matrix.Crypto
	mu       sync.Mutex
	plain    []string
	lastType event.Type
}

func (f *fakeCrypto) Encrypt(_ context.Context, _ id.RoomID, evtType event.Type, content *event.Content) error {
	msg, ok := content.Parsed.(*event.MessageEventContent)
	if !ok {
		return nil
	}
	f.mu.Lock()
	f.plain = append(f.plain, msg.Body)
	f.lastType = evtType
	f.mu.Unlock()
	content.Parsed = &event.EncryptedEventContent{Algorithm: id.AlgorithmMegolmV1, MegolmCiphertext: []byte("ciphertext")}
	content.Raw = nil
	return nil
}

// TestBotNoticesEncrypted: what bridgev2 sends with the bot's raw client (its delivery-failure
// notices) is encrypted in an encrypted room once the connector started with encryption on,
// and stays plain in other rooms.
func TestBotNoticesEncrypted(t *testing.T) {
	var mu sync.Mutex
	var paths []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		paths = append(paths, r.URL.Path)
		mu.Unlock()
		_, _ = w.Write([]byte(`{"event_id":"$x"}`))
	}))
	defer srv.Close()
	cli, err := mautrix.NewClient(srv.URL, "@msnbot:test", "token")
	if err != nil {
		t.Fatal(err)
	}
	cli.StateStore = mautrix.NewMemoryStateStore()
	ctx := context.Background()
	const secret, open = id.RoomID("!secret:test"), id.RoomID("!open:test")
	if err := cli.StateStore.SetEncryptionEvent(ctx, secret, &event.EncryptionEventContent{Algorithm: id.AlgorithmMegolmV1}); err != nil {
		t.Fatal(err)
	}
	fc := &fakeCrypto{}
	mc := &matrix.Connector{Bot: &appservice.IntentAPI{Client: cli}, Crypto: fc}
	conn := &Connector{Bridge: &bridgev2.Bridge{Matrix: mc}}
	conn.encryptBotNotices()
	if cli.Crypto == nil {
		t.Fatal("the bot's client has no crypto helper with encryption on")
	}

	notice := &event.MessageEventContent{MsgType: event.MsgNotice, Body: "Your message was not bridged"}
	for _, room := range []id.RoomID{secret, open} {
		if _, err := cli.SendMessageEvent(ctx, room, event.EventMessage, notice); err != nil {
			t.Fatal(err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(paths) != 2 || !strings.Contains(paths[0], "/rooms/!secret:test/send/m.room.encrypted/") ||
		!strings.Contains(paths[1], "/rooms/!open:test/send/m.room.message/") {
		t.Fatalf("sent to %v", paths)
	}
	if len(fc.plain) != 1 || fc.plain[0] != notice.Body || fc.lastType != event.EventMessage {
		t.Fatalf("encrypted %v as %v", fc.plain, fc.lastType)
	}

	// Without encryption the bot's client stays as bridgev2 made it.
	plainCli, _ := mautrix.NewClient(srv.URL, "@msnbot:test", "token")
	(&Connector{Bridge: &bridgev2.Bridge{Matrix: &matrix.Connector{Bot: &appservice.IntentAPI{Client: plainCli}}}}).encryptBotNotices()
	if plainCli.Crypto != nil {
		t.Fatal("a crypto helper was installed with encryption off")
	}
}
