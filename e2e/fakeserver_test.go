//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// fakeServer is cmd/msn-fakeserver run as a process, driven through its control API.
type fakeServer struct {
	proc    *process
	NS      string // notification server host:port
	HTTP    string // base URL of the HTTP services
	Control string // base URL of the control API
}

// account is one entry of the fake server's account file (cmd/msn-fakeserver -accounts).
type account struct {
	Passport string   `json:"passport"`
	Password string   `json:"password,omitempty"`
	Name     string   `json:"name,omitempty"`
	PSM      string   `json:"psm,omitempty"`
	Status   string   `json:"status,omitempty"` // scripted contacts: NLN, AWY, BSY, …, FLN
	Contacts []string `json:"contacts,omitempty"`
	Scripted bool     `json:"scripted,omitempty"` // a contact driven by the control API
	Echo     bool     `json:"echo,omitempty"`     // a scripted contact answering every message
	Caps     string   `json:"caps,omitempty"`     // a scripted contact's client capabilities ("caps:capsex")
}

// startFakeServer writes the account file and runs the fake server binary.
func startFakeServer(ctx context.Context, bin, dir string, accounts []account) (*fakeServer, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	accPath := filepath.Join(dir, "accounts.json")
	data, err := json.MarshalIndent(map[string]any{"accounts": accounts}, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(accPath, data, 0o600); err != nil {
		return nil, err
	}
	ready := filepath.Join(dir, "ready.json")
	_ = os.Remove(ready)
	p, err := startProcess("msn-fakeserver", dir, filepath.Join(dir, "fakeserver.log"), bin,
		"-accounts", accPath, "-ready-file", ready,
		// Free ports, read back from the ready file: a `make demo` or another run may hold
		// the defaults (1863, 8081, 8082).
		"-ns", "127.0.0.1:0", "-http", "127.0.0.1:0", "-control", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	b, err := waitFile(ctx, p, ready, 30*time.Second)
	if err != nil {
		p.stop(5 * time.Second)
		return nil, err
	}
	var addrs struct{ NS, HTTP, Control string }
	if err := json.Unmarshal(b, &addrs); err != nil {
		p.stop(5 * time.Second)
		return nil, fmt.Errorf("fake server ready file: %w", err)
	}
	return &fakeServer{proc: p, NS: addrs.NS, HTTP: addrs.HTTP, Control: addrs.Control}, nil
}

func (f *fakeServer) stop() { f.proc.stop(5 * time.Second) }

func (f *fakeServer) post(path string, body any) error {
	ctx, cancel := reqCtx()
	defer cancel()
	return doJSON(ctx, http.MethodPost, f.Control+path, body, nil)
}

// msgFormat is the MSN X-MMS-IM-Format of a message.
type msgFormat struct {
	Font      string `json:"font,omitempty"`
	Color     string `json:"color,omitempty"` // RRGGBB
	Bold      bool   `json:"bold,omitempty"`
	Italic    bool   `json:"italic,omitempty"`
	Underline bool   `json:"underline,omitempty"`
	Strike    bool   `json:"strike,omitempty"`
}

// sayIn makes contact from send a text message into its conversation with to and with.
func (f *fakeServer) sayIn(from, to, with, text string) error {
	return f.post("/v1/message", map[string]any{"from": from, "to": to, "with": with, "text": text})
}

// say makes contact from send a text message to the account to.
func (f *fakeServer) say(from, to, text string, format *msgFormat) error {
	return f.post("/v1/message", map[string]any{"from": from, "to": to, "text": text, "format": format})
}

func (f *fakeServer) typing(from, to string) error {
	return f.post("/v1/typing", map[string]any{"from": from, "to": to})
}

func (f *fakeServer) nudge(from, to string) error {
	return f.post("/v1/nudge", map[string]any{"from": from, "to": to})
}

// presence sets a scripted contact's status, personal message and friendly name.
func (f *fakeServer) presence(who, status, psm, name string) error {
	return f.post("/v1/presence", map[string]any{"who": who, "status": status, "psm": psm, "name": name})
}

// join makes contact who join the conversation between with and to.
func (f *fakeServer) join(who, to, with string) error {
	return f.post("/v1/join", map[string]any{"who": who, "to": to, "with": with})
}

// leave makes contact who leave its conversation with to.
func (f *fakeServer) leave(who, to string) error {
	return f.post("/v1/leave", map[string]any{"who": who, "to": to})
}

// oim queues an offline message from → to.
func (f *fakeServer) oim(from, to, text string) error {
	return f.post("/v1/oim", map[string]any{"from": from, "to": to, "text": text})
}

// restart drops every connection and refuses new ones for down.
func (f *fakeServer) restart(down time.Duration) error {
	return f.post("/v1/restart", map[string]any{"down_ms": down.Milliseconds()})
}

// down drops every connection and keeps refusing new ones until up.
func (f *fakeServer) down() error { return f.post("/v1/down", map[string]any{}) }

// up ends an outage started by down.
func (f *fakeServer) up() error { return f.post("/v1/up", map[string]any{}) }

// receivedItem is something a scripted contact received.
type receivedItem struct {
	Index  int        `json:"index"` // position in the contact's list; the next cursor is Index+1
	From   string     `json:"from"`
	Kind   string     `json:"kind"` // text, typing, nudge, other
	Text   string     `json:"text"`
	Format *msgFormat `json:"format"`
	Chunks int        `json:"chunks"`     // switchboard messages it came in (1: a plain message)
	MsgID  string     `json:"message_id"` // Message-ID of a chunked message
}

// received long-polls what contact received after index since.
func (f *fakeServer) received(contact string, since int, wait time.Duration) ([]receivedItem, int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), wait+30*time.Second)
	defer cancel()
	q := url.Values{"contact": {contact}, "since": {fmt.Sprint(since)}, "wait_ms": {fmt.Sprint(wait.Milliseconds())}}
	var out struct {
		Items []receivedItem `json:"items"`
		Next  int            `json:"next"`
	}
	err := longPollJSON(ctx, http.MethodGet, f.Control+"/v1/received?"+q.Encode(), nil, &out)
	return out.Items, out.Next, err
}

// expectReceived waits until contact received an item matching match.
func (f *fakeServer) expectReceived(contact string, since int, timeout time.Duration, what string, match func(receivedItem) bool) (receivedItem, error) {
	deadline := time.Now().Add(timeout)
	var got []string
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return receivedItem{}, fmt.Errorf("%s did not receive %s within %s; it received: [%s]", contact, what, timeout, strings.Join(got, "; "))
		}
		items, next, err := f.received(contact, since, left)
		if err != nil {
			return receivedItem{}, err
		}
		for _, it := range items {
			if match(it) {
				return it, nil
			}
			got = append(got, it.Kind+":"+truncate(it.Text, 60))
		}
		since = next
	}
}

// receivedCount returns how many items contact has received so far (a cursor for expectReceived).
func (f *fakeServer) receivedCount(contact string) (int, error) {
	_, next, err := f.received(contact, 0, 0)
	return next, err
}

// account returns how many NS logins the account made so far and its presence status ("FLN"
// when no session is signed in).
func (f *fakeServer) account(passport string) (logins int, status string, err error) {
	ctx, cancel := reqCtx()
	defer cancel()
	var out struct {
		Logins int    `json:"logins"`
		Status string `json:"status"`
	}
	err = doJSON(ctx, http.MethodGet, f.Control+"/v1/logins?passport="+url.QueryEscape(passport), nil, &out)
	return out.Logins, out.Status, err
}

// signedIn returns nil when the account's online state is want.
func (f *fakeServer) signedIn(passport string, want bool) error {
	_, status, err := f.account(passport)
	if err != nil {
		return err
	}
	if (status != "FLN") != want {
		return fmt.Errorf("%s has status %s", passport, status)
	}
	return nil
}

func readFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	return string(b), err
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
