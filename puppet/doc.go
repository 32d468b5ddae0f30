// Package puppet turns MSN contacts into Matrix ghosts: ghost ids derived from passports, display
// names from a template, and MSN presence mapped to Matrix presence and pushed with rate limiting.
//
// bridgev2 has no presence support of its own; [Pusher] sets presence through any value with a
// SetPresence method (the ghost's appservice intent in the bridge).
package puppet
