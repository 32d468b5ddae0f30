package bridge

import (
	"context"
	"fmt"

	"maunium.net/go/mautrix/bridgev2"
	bridgedb "maunium.net/go/mautrix/bridgev2/database"
	"maunium.net/go/mautrix/bridgev2/networkid"
	"maunium.net/go/mautrix/bridgev2/status"
	"maunium.net/go/mautrix/event"
)

// matrixSide is everything the MSN client does to the Matrix side. The bridge implementation
// goes through bridgev2; tests record the calls instead.
type matrixSide interface {
	// QueueRemoteEvent hands an event to bridgev2; false when bridgev2 did not take it (it
	// was neither queued nor handled).
	QueueRemoteEvent(evt bridgev2.RemoteEvent) bool
	// EnsurePortal makes sure the portal has its Matrix room (creating it if needed).
	EnsurePortal(ctx context.Context, key networkid.PortalKey) error
	UpdateGhost(ctx context.Context, ghostID networkid.UserID, info *bridgev2.UserInfo) error
	NotifyUser(ctx context.Context, text string) error
	PortalNotice(ctx context.Context, portal *bridgev2.Portal, text string) error
	SaveLogin(ctx context.Context) error
	SendState(st status.BridgeState)
	// MessageStored reports whether bridgev2 has stored the message with this id in portal p
	// (its Matrix event was sent).
	MessageStored(ctx context.Context, p *bridgev2.Portal, id networkid.MessageID) (bool, error)
	// AddPendingSend tells bridgev2 that the outcome of Matrix message msg comes later, as a
	// remote echo with transaction id txn; handle gives it then (bridgev2's AddPendingToSave).
	AddPendingSend(msg *bridgev2.MatrixMessage, dbMsg *bridgedb.Message, txn networkid.TransactionID, handle bridgev2.RemoteEchoHandler)
	// RemovePendingSend forgets a pending message whose echo could not be queued.
	RemovePendingSend(msg *bridgev2.MatrixMessage, txn networkid.TransactionID)
}

// bridgeSide implements matrixSide with bridgev2.
type bridgeSide struct {
	br    *bridgev2.Bridge
	login *bridgev2.UserLogin
}

func (b *bridgeSide) QueueRemoteEvent(evt bridgev2.RemoteEvent) bool {
	res := b.login.QueueRemoteEvent(evt)
	if !res.Success {
		b.login.Log.Warn().Any("result", res).Msg("Remote event was not handled")
	}
	return res.Queued || res.Success
}

func (b *bridgeSide) EnsurePortal(ctx context.Context, key networkid.PortalKey) error {
	portal, err := b.br.GetPortalByKey(ctx, key)
	if err != nil {
		return fmt.Errorf("get portal: %w", err)
	}
	if portal.MXID != "" {
		return nil
	}
	if err := portal.CreateMatrixRoom(ctx, b.login, nil); err != nil {
		return fmt.Errorf("create portal room: %w", err)
	}
	return nil
}

func (b *bridgeSide) UpdateGhost(ctx context.Context, ghostID networkid.UserID, info *bridgev2.UserInfo) error {
	ghost, err := b.br.GetGhostByID(ctx, ghostID)
	if err != nil {
		return fmt.Errorf("get ghost: %w", err)
	}
	ghost.UpdateInfo(ctx, info)
	return nil
}

func (b *bridgeSide) NotifyUser(ctx context.Context, text string) error {
	if b.login.User == nil || b.br.Bot == nil {
		return nil
	}
	roomID, err := b.login.User.GetManagementRoom(ctx)
	if err != nil {
		return fmt.Errorf("get management room: %w", err)
	}
	content := &event.MessageEventContent{MsgType: event.MsgNotice, Body: text}
	if _, err := b.br.Bot.SendMessage(ctx, roomID, event.EventMessage, &event.Content{Parsed: content}, nil); err != nil {
		return fmt.Errorf("send notice: %w", err)
	}
	return nil
}

func (b *bridgeSide) PortalNotice(ctx context.Context, portal *bridgev2.Portal, text string) error {
	if portal == nil || portal.MXID == "" || b.br.Bot == nil {
		return nil
	}
	content := &event.MessageEventContent{MsgType: event.MsgNotice, Body: text}
	if _, err := b.br.Bot.SendMessage(ctx, portal.MXID, event.EventMessage, &event.Content{Parsed: content}, nil); err != nil {
		return fmt.Errorf("send notice: %w", err)
	}
	return nil
}

func (b *bridgeSide) SaveLogin(ctx context.Context) error {
	return b.login.Save(ctx)
}

func (b *bridgeSide) SendState(st status.BridgeState) {
	if b.login.BridgeState != nil {
		b.login.BridgeState.Send(st)
	}
}

func (b *bridgeSide) MessageStored(ctx context.Context, p *bridgev2.Portal, id networkid.MessageID) (bool, error) {
	if p == nil {
		return false, nil
	}
	parts, err := b.br.DB.Message.GetAllPartsByID(ctx, p.Receiver, id)
	if err != nil {
		return false, fmt.Errorf("look up message %s: %w", id, err)
	}
	return len(parts) > 0, nil
}

func (b *bridgeSide) AddPendingSend(msg *bridgev2.MatrixMessage, dbMsg *bridgedb.Message, txn networkid.TransactionID, handle bridgev2.RemoteEchoHandler) {
	msg.AddPendingToSave(dbMsg, txn, handle)
}

func (b *bridgeSide) RemovePendingSend(msg *bridgev2.MatrixMessage, txn networkid.TransactionID) {
	msg.RemovePending(txn)
}
