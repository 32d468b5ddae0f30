// Package p2p implements the parts of MSN P2P (MSNC, "MSNP2P") that travel inside
// application/x-msnmsgrp2p switchboard messages: the P2Pv1 48-byte binary header and 4-byte
// footer (FACTS §9.1), MSNSLP requests and responses (FACTS §9.2), the file-transfer context,
// bounded reassembly of SLP messages split over several chunks, MSNObjects (FACTS §5.5), and a
// Responder that runs display-picture sessions both ways (fetching a contact's object,
// serving our own to at most MaxServesPerPeer requests of a contact and MaxServes overall at
// once; FACTS §9.3), file transfers both ways (Transfer: an offer accepted with
// SessionConfig.AcceptFile streams into the caller's io.Writer chunk by chunk, bounded by
// MaxFileSize and FileTimeout; OfferFile and FileChunk send one; FACTS §9.4), and answers what
// a client cannot serve (webcam, direct connections, files it declines) with "603 Decline"
// the way the captured clients do (shared/msnp/transcripts/p2p/03-file-decline.txt).
//
// Only P2Pv1 is spoken; MSNP16–18 peers use it with clients that do not announce P2Pv2
// (shared/msnp/P2PV2.md §1). A P2Pv2 packet is recognised and refused with ErrP2Pv2, never
// misparsed as v1. Every parser is bounded and returns errors for bad input; none panics.
//
// The package has no Matrix imports; msn/sb carries its frames.
package p2p
