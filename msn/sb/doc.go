// Package sb is the switchboard (SB) side of the MSNP client: the connections on which MSN
// conversations take place, and the conversation objects a caller keeps across them.
//
// A [Manager] belongs to one account and may be kept across Notification Server reconnects
// (see [NotificationServer]). It opens switchboards on demand
// (XFR SB → USR → CAL → JOI), accepts invitations (RNG → ANS → IRO), keeps the roster of each
// switchboard (MSNP16+ "email;{guid}" endpoints and the client's own JOI folded into one
// participant per passport), closes idle one-to-one switchboards and reopens them
// transparently on the next message.
//
// A [Conversation] is either one-to-one (keyed by the contact's passport) or multi-party
// (keyed by an id the manager makes, or one the caller gives to [Manager.RestoreGroup]). It
// outlives every switchboard it is carried on. The manager keeps at most Config.MaxGroups
// multi-party and Config.MaxConversations one-to-one conversations: beyond that it forgets the
// least recently used ones that have no switchboard ([Manager.RestoreGroup] brings a group
// back; [Manager.Conversation] makes a new one-to-one). Invitations are accepted by a small,
// bounded pool ([Manager.HandleInvite]).
// [Conversation.Send] returns a [Result] that ends Delivered, Failed or Offline: no message
// vanishes silently. Messages sent while the switchboard is being opened are queued and sent in
// order, once every contact called into a new switchboard joined (or Config.JoinWait passed;
// [Result.Missed] names who did not get a message); messages still waiting for their ACK when a
// switchboard drops are sent once more on a new switchboard, and a message whose ACK never
// comes fails after Config.AckTimeout. Long text goes as one chunked message of several MSGs
// of at most [MaxPayload] bytes when everybody on the switchboard reassembles chunks, else as
// several messages; [Result.Undelivered] gives what did not arrive.
//
// Everything that happens in conversations reaches the caller as an [Event] through
// Config.OnEvent: in order per conversation, conversations independently of each other, so
// a caller that blocks on one conversation holds up only that one (its switchboard stops
// reading while its events pile up).
package sb
