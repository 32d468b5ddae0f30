// Package auth holds the MSN Messenger (MSNP2 … MSNP18) authentication primitives and the two
// HTTP login clients a Notification Server login needs.
//
// By protocol generation:
//
//   - MSNP2–7 ("USR … MD5"): [MD5Response] answers the server's salt.
//   - MSNP8–14 ("USR … TWN"): [Passport.TWN] performs the Passport 1.4 "Tweener" exchange (nexus
//     lookup, then GET on the login URL with a Passport1.4 Authorization header) and returns
//     the ticket for "USR … TWN S <ticket>".
//   - MSNP15–18 ("USR … SSO"): [SSO.Login] posts a WS-Trust RequestMultipleSecurityTokens
//     envelope to RST.srf and returns one [Token] per service domain; [MBIBlob] turns the
//     messengerclear.live.com BinarySecret and the server nonce into the MBI_KEY_OLD blob for
//     "USR … SSO S <ticket> <blob>".
//   - Challenges (CHL → QRY): [ChallengeResponse] picks the product id/key pair of the
//     negotiated version ([ProductFor]) and the matching algorithm ([ChallengeMD5] up to MSNP10,
//     [ChallengeMSNP11] from MSNP11 on).
//
// Both HTTP clients bound every response they read, honour the caller's context and never put
// the password or any ticket into an error string. A wrong e-mail or password is reported as an
// error for which errors.Is(err, [ErrBadCredentials]) holds; every other HTTP or parse failure is
// an [*Error] carrying the operation, the URL and the HTTP status.
package auth
