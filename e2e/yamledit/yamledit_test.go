package yamledit

import (
	"strings"
	"testing"
)

const sample = `# top comment
homeserver:
    # where the homeserver is
    address: http://example.localhost:8008
    domain: example.com
network:
    server: 127.0.0.1:1863
    protocol_versions: [18, 17]
`

func TestSetKeepsCommentsAndOrder(t *testing.T) {
	d, err := Parse([]byte(sample))
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Set("homeserver.address", "http://127.0.0.1:9999"); err != nil {
		t.Fatal(err)
	}
	if err := d.SetYAML("network.protocol_versions", "[8]"); err != nil {
		t.Fatal(err)
	}
	if err := d.Set("bridge.permissions", map[string]string{"localhost": "admin"}); err != nil {
		t.Fatal(err)
	}
	b, err := d.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	out := string(b)
	for _, want := range []string{"# top comment", "# where the homeserver is", "address: http://127.0.0.1:9999", "domain: example.com", "protocol_versions: [8]", "localhost: admin"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Index(out, "homeserver:") > strings.Index(out, "network:") || strings.Index(out, "network:") > strings.Index(out, "bridge:") {
		t.Errorf("key order changed:\n%s", out)
	}
	d2, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := d2.Get("homeserver.address"); !ok || v != "http://127.0.0.1:9999" {
		t.Errorf("Get after round trip = %q, %v", v, ok)
	}
	if v, ok := d2.Get("bridge.permissions.localhost"); !ok || v != "admin" {
		t.Errorf("new nested key = %q, %v", v, ok)
	}
}

func TestErrors(t *testing.T) {
	if _, err := Parse([]byte("- a list\n")); err == nil {
		t.Error("a top-level list parsed as a mapping")
	}
	d, err := Parse([]byte(sample))
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Set("homeserver.address.deeper", 1); err == nil {
		t.Error("setting below a scalar succeeded")
	}
	if err := d.Set("a..b", 1); err == nil {
		t.Error("an empty key segment was accepted")
	}
	if err := d.SetYAML("x", "[unclosed"); err == nil {
		t.Error("a broken YAML fragment was accepted")
	}
	if _, ok := d.Get("network.missing"); ok {
		t.Error("Get found a missing key")
	}
	if _, ok := d.Get("network"); ok {
		t.Error("Get returned a mapping as a scalar")
	}
}
