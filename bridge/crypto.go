package bridge

import (
	"context"
	"fmt"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/bridgev2/matrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"
)

// botCrypto lets the bridge bot's plain Matrix client encrypt what it sends into encrypted
// rooms. bridgev2 encrypts what goes through its intents, but sends its delivery-failure notices
// ("Your message was not bridged: …") and message status events with the bot's raw client, which
// has no crypto helper: in an encrypted portal they went out in plaintext. With this adapter set
// as that client's Crypto, mautrix.Client.SendMessageEvent encrypts them like everything else
// (events already encrypted by an intent are sent as m.room.encrypted and left alone).
type botCrypto struct {
	c matrix.Crypto
}

var _ mautrix.CryptoHelper = botCrypto{}

// Encrypt encrypts content for the room with the bridge's Megolm sessions.
func (b botCrypto) Encrypt(ctx context.Context, roomID id.RoomID, evtType event.Type, content any) (*event.EncryptedEventContent, error) {
	wrapped, ok := content.(*event.Content)
	if !ok {
		wrapped = &event.Content{Parsed: content}
	}
	if err := b.c.Encrypt(ctx, roomID, evtType, wrapped); err != nil {
		return nil, fmt.Errorf("encrypt %s for %s: %w", evtType.Type, roomID, err)
	}
	encrypted, ok := wrapped.Parsed.(*event.EncryptedEventContent)
	if !ok {
		return nil, fmt.Errorf("encrypt %s for %s: no encrypted content", evtType.Type, roomID)
	}
	return encrypted, nil
}

// Decrypt decrypts an event with the bridge's sessions.
func (b botCrypto) Decrypt(ctx context.Context, evt *event.Event) (*event.Event, error) {
	return b.c.Decrypt(ctx, evt)
}

// WaitForSession waits for a Megolm session to arrive.
func (b botCrypto) WaitForSession(ctx context.Context, roomID id.RoomID, senderKey id.SenderKey, sessionID id.SessionID, timeout time.Duration) bool {
	return b.c.WaitForSession(ctx, roomID, senderKey, sessionID, timeout)
}

// RequestSession asks other devices for a Megolm session.
func (b botCrypto) RequestSession(ctx context.Context, roomID id.RoomID, senderKey id.SenderKey, sessionID id.SessionID, userID id.UserID, deviceID id.DeviceID) {
	b.c.RequestSession(ctx, roomID, senderKey, sessionID, userID, deviceID)
}

// Init does nothing: bridgev2 initialised the crypto helper before the network connector starts.
func (b botCrypto) Init(context.Context) error { return nil }

// encryptBotNotices installs botCrypto on the bot's client when encryption is on.
func (c *Connector) encryptBotNotices() {
	mc, ok := c.Bridge.Matrix.(*matrix.Connector)
	if !ok || mc.Crypto == nil || mc.Bot == nil || mc.Bot.Client == nil || mc.Bot.Crypto != nil {
		return
	}
	mc.Bot.Crypto = botCrypto{c: mc.Crypto}
}
