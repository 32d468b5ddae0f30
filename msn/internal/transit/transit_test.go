package transit

import (
	"errors"
	"fmt"
	"io"
	"testing"
)

// TestMark: a marked error keeps its text and its cause and matches ErrInTransit through
// wrapping; an unmarked one does not.
func TestMark(t *testing.T) {
	err := fmt.Errorf("abch: ABFindAll: %w", Mark(io.ErrUnexpectedEOF))
	if !errors.Is(err, ErrInTransit) || !errors.Is(err, io.ErrUnexpectedEOF) || err.Error() != "abch: ABFindAll: unexpected EOF" {
		t.Fatalf("marked: %v", err)
	}
	if errors.Is(io.ErrUnexpectedEOF, ErrInTransit) {
		t.Fatal("an unmarked error matches")
	}
}
