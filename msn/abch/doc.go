// Package abch is the SOAP client for the Windows Live contact services that MSNP13 and later
// use instead of the notification server's SYN: the address book service (ABCH,
// abservice.asmx) and the sharing service (SharingService.asmx, memberships).
//
// A [Client] is configured with the two endpoint URLs and a function returning the current
// TicketToken ("t=…&p=…" from SSO, or "t=<token>" in the Tweener era). Every call is a single
// bounded HTTP POST made through the caller's context:
//
//   - [Client.FindMembership] reads the Allow, Block, Reverse and Pending roles of the
//     Messenger service (the old AL/BL/RL/PL lists).
//   - [Client.FindAll] (ABFindAll, MSNP13–15) and [Client.FindContactsPaged]
//     (ABFindContactsPaged, MSNP16+) read the address book: contacts, groups and the
//     account's own "Me" entry.
//   - [Client.AddContact], [Client.DeleteContact], [Client.AddMember] and
//     [Client.DeleteMember] change the lists; the caller then tells the notification server
//     with ADL/RML.
//
// The CacheKey the server returns in its ServiceHeader is remembered and sent back on later
// calls. SOAP faults come back as [*Fault] errors; [IsFullSyncRequired] recognises the
// "full sync required" fault. Responses larger than [MaxResponseBytes] or with more than
// [MaxEntries] contacts or members are rejected. The ticket is never logged.
package abch
