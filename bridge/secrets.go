package bridge

import (
	"errors"

	"maunium.net/go/mautrix/bridgev2"

	"github.com/msnbridge/msnbridge/msn/auth"
)

// redact removes the password from a text shown to users or stored in a bridge state. The
// login clients never put it into errors; this is the last line for server texts that echo it.
func redact(text, password string) string { return auth.Redact(text, password) }

// redactErr returns err with the password removed from its text (a RespError keeps its code).
func redactErr(err error, password string) error {
	if err == nil {
		return nil
	}
	var re bridgev2.RespError
	if errors.As(err, &re) {
		re.Err = redact(re.Err, password)
		return re
	}
	if msg := redact(err.Error(), password); msg != err.Error() {
		return errors.New(msg)
	}
	return err
}
