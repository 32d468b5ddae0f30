package bridge

import (
	"errors"
	"strings"
	"testing"

	"maunium.net/go/mautrix/bridgev2"
)

func TestRedact(t *testing.T) {
	const pw = "p@ss w<rd&1"
	for _, text := range []string{
		"fault: " + pw,
		"pwd=p%40ss+w%3Crd%261",
		"pwd=p%40ss%20w%3Crd%261",
		"<Password>p@ss w&lt;rd&amp;1</Password>",
	} {
		if got := redact(text, pw); !strings.Contains(got, "[redacted]") || strings.Contains(got, "ss w") || strings.Contains(got, "%3Crd") {
			t.Errorf("redact(%q) = %q still shows the password", text, got)
		}
	}
	if got := redact("an ab error", "ab"); got != "an ab error" {
		t.Errorf("a too short password changed the text: %q", got)
	}
	re := redactErr(bridgev2.RespError{ErrCode: "X", Err: "server said " + pw}, pw)
	var out bridgev2.RespError
	if !errors.As(re, &out) || out.ErrCode != "X" || strings.Contains(out.Err, pw) {
		t.Errorf("redactErr(RespError) = %#v", re)
	}
	if got := redactErr(errors.New("x "+pw), pw).Error(); strings.Contains(got, pw) {
		t.Errorf("redactErr = %q", got)
	}
}
