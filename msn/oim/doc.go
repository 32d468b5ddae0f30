// Package oim handles MSN offline messages (OIMs): the Mail-Data XML the notification server
// sends at login and when an OIM arrives, the RSI web service that lists, fetches and deletes
// them (/rsi/rsi.asmx), and the OIM Store2 web service that sends them on MSNP13–17
// (/OimWS/oim.asmx).
//
// Every HTTP request carries the caller's context and the default client has a 30 s timeout;
// response bodies are limited to [MaxResponseBytes]. Tickets and lock keys are never logged.
package oim
