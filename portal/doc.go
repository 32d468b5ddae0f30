// Package portal converts what goes into portal rooms: MSN text messages (with their
// X-MMS-IM-Format) to Matrix message content and back, notices for MSN content Matrix cannot
// show (nudges, winks, voice clips, file transfers), and chat names and member lists for
// one-to-one and group conversations.
//
// MSN text is always HTML-escaped before it is put into a formatted body; Matrix HTML is reduced
// to what MSN can show (one style for the whole message, plain text otherwise).
package portal
