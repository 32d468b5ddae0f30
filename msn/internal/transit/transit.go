// Package transit marks the errors of an HTTP exchange itself — the connection failed, or
// closed before the whole answer came — as opposed to an answer (a fault, an error status), so
// that a client can make a request that changes nothing once more after such an error.
package transit

import "errors"

// ErrInTransit matches, with errors.Is, every error made by Mark.
var ErrInTransit = errors.New("HTTP exchange broken in transit")

// marked is an error of an exchange; its text is its cause's alone.
type marked struct{ err error }

func (e marked) Error() string        { return e.err.Error() }
func (e marked) Unwrap() error        { return e.err }
func (e marked) Is(target error) bool { return target == ErrInTransit }

// Mark marks err as an error of the HTTP exchange itself.
func Mark(err error) error { return marked{err} }
