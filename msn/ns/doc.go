// Package ns is the client side of an MSN Messenger Notification Server (NS) session, for
// protocol versions MSNP2 … MSNP18 as spoken by revival servers such as Escargot.
//
// [Login] dials the configured server, negotiates a version from Config.Versions (default 18
// down to 8; 2–7 by configuration), follows "XFR NS" redirects and authenticates with the
// scheme of the version family:
//
//   - MSNP2–7: MD5 of the server's salt and the password (USR … MD5).
//   - MSNP8–14: Passport 1.4 "Tweener" over HTTP (USR … TWN), see auth.Passport.
//   - MSNP15–18: SSO against RST.srf plus the MBI blob (USR … SSO), see auth.SSO; MSNP16+
//     also sends Config.MachineGUID, which identifies this endpoint beside the user's others.
//
// It then loads the contact list (SYN up to MSNP12; the ABCH address book and sharing services
// plus the initial ADL from MSNP13) and sets Config.InitialStatus, which makes the server send
// the contacts' presence. The whole login is bounded by Config.LoginTimeout; a wrong password
// gives an error for which errors.Is(err, auth.ErrBadCredentials) holds.
//
// A [Session] then keeps the connection: it answers challenges (CHL → QRY), pings on the
// server's interval and treats a missing QNG as a dead connection, and matches replies to
// requests by transaction id so that every method may be called from any goroutine. Every
// request is bounded by Config.RequestTimeout ([ErrTimeout]).
//
// What happens on the server side is delivered as [Event] values to Config.OnEvent, in order,
// from a single goroutine: presence ([PresenceEvent]), names and personal messages
// ([ProfileEvent]), list changes and being added or removed by someone ([ListChangeEvent],
// [AddedByEvent], [RemovedByEvent]), switchboard invitations ([SwitchboardInviteEvent]),
// offline-message notifications ([MailDataEvent], [OfflineMessageNotifyEvent]), server notices
// ([SystemMessageEvent]) and, once, the end of the session ([DisconnectEvent]). The queue in
// front of OnEvent never blocks the connection: a handler that stalls delays events, not
// replies (beyond 8192 waiting events new ones are dropped and logged as errors; the final
// [DisconnectEvent] is always delivered). The session's own state ([Session.Contacts],
// [Session.Contact]) is updated before the matching event is queued.
//
// A session ends with [Session.Close] (a clean OUT) or when the server or the network ends
// it; [Session.Done] is closed then and [Session.Err] says why: [ErrSignedInElsewhere] (OUT
// OTH — do not reconnect in a loop), [ErrServerShutdown] (OUT SSD) or a [*DisconnectError].
//
// Commands are logged through zerolog with the passport and version as fields, and only in
// the form of wire.Command.String, which masks tickets, hashes and cookies; passwords and
// tokens never reach a log line.
package ns
