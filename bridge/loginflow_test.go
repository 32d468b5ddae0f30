package bridge

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"go.mau.fi/util/dbutil"
	"maunium.net/go/mautrix/bridgev2"
	"maunium.net/go/mautrix/bridgev2/bridgeconfig"
	"maunium.net/go/mautrix/bridgev2/commands"
	"maunium.net/go/mautrix/bridgev2/status"
	"maunium.net/go/mautrix/id"

	"github.com/msnbridge/msnbridge/database"
)

// lockedBuffer collects log output written from several goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// stubMatrix is the smallest Matrix connector that lets bridgev2 run a login: methods not
// defined here are never reached by the login flow (calling one would panic the test).
type stubMatrix struct {
	bridgev2.MatrixConnector
	states chan status.BridgeState
}

func (s *stubMatrix) Init(*bridgev2.Bridge)         {}
func (s *stubMatrix) BotIntent() bridgev2.MatrixAPI { return nil }
func (s *stubMatrix) ServerName() string            { return "test" }
func (s *stubMatrix) GetCapabilities() *bridgev2.MatrixCapabilities {
	return &bridgev2.MatrixCapabilities{}
}
func (s *stubMatrix) SendBridgeStatus(_ context.Context, st *status.BridgeState) error {
	select {
	case s.states <- *st:
	default:
	}
	return nil
}

func TestLoginFlowSavesOnlyAfterRealLogin(t *testing.T) {
	srv := newFakeServer(t)
	if err := srv.AddAccount("alice@example.com", "right-password", "Alice"); err != nil {
		t.Fatal(err)
	}
	conn := testConnector(t, srv, 18)
	db, err := dbutil.NewWithDialect("file:loginflow?mode=memory&cache=shared&_txlock=immediate", "sqlite3-fk-wal")
	if err != nil {
		t.Fatal(err)
	}
	db.RawDB.SetMaxOpenConns(1)
	t.Cleanup(func() { _ = db.Close() })
	mx := &stubMatrix{states: make(chan status.BridgeState, 16)}
	logs := &lockedBuffer{}
	br := bridgev2.NewBridge("test", db, zerolog.New(logs).Level(zerolog.TraceLevel), &bridgeconfig.BridgeConfig{CommandPrefix: "!msn"}, mx, conn, commands.NewProcessor)
	br.BackgroundCtx = context.Background() // normally set by Bridge.Start
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := br.DB.Upgrade(ctx); err != nil {
		t.Fatal(err)
	}
	if err := conn.Store.Upgrade(ctx); err != nil {
		t.Fatal(err)
	}
	user, err := br.GetUserByMXID(ctx, id.UserID("@user:test"))
	if err != nil {
		t.Fatal(err)
	}

	proc, err := conn.CreateLogin(ctx, user, LoginFlowPassword)
	if err != nil {
		t.Fatal(err)
	}
	step, err := proc.Start(ctx)
	if err != nil || step.Type != bridgev2.LoginStepTypeUserInput || len(step.UserInputParams.Fields) != 2 {
		t.Fatalf("first step = %+v, %v", step, err)
	}
	if f := step.UserInputParams.Fields[1]; f.ID != "password" || f.Type != bridgev2.LoginInputFieldTypePassword {
		t.Fatalf("password field %+v is not typed as a password (bridgev2 redacts only those)", f)
	}
	input := proc.(bridgev2.LoginProcessUserInput)
	t.Cleanup(func() {
		out := logs.String()
		if out == "" {
			t.Error("no log output captured; the secret check below would prove nothing")
		}
		for _, secret := range []string{"right-password", "nope"} {
			if strings.Contains(out, secret) {
				t.Errorf("password %q reached the log", secret)
			}
		}
	})

	// Wrong password: a clear error and nothing stored.
	_, err = input.SubmitUserInput(ctx, map[string]string{"passport": "Alice@Example.com", "password": "nope"})
	var re bridgev2.RespError
	if !errors.As(err, &re) || re.ErrCode != ErrWrongPassword.ErrCode || !strings.Contains(strings.ToLower(re.Err), "wrong e-mail or password") {
		t.Fatalf("wrong password error = %v", err)
	}
	if logins, _ := br.DB.UserLogin.GetAllForUser(ctx, user.MXID); len(logins) != 0 {
		t.Fatalf("a login was saved after a failed login: %+v", logins)
	}
	// Malformed passport: rejected before any network traffic.
	if _, err = input.SubmitUserInput(ctx, map[string]string{"passport": "not-an-email", "password": "x"}); err == nil {
		t.Fatal("malformed passport accepted")
	}

	step, err = input.SubmitUserInput(ctx, map[string]string{"passport": "Alice@Example.com", "password": "right-password"})
	if err != nil || step.Type != bridgev2.LoginStepTypeComplete {
		t.Fatalf("login = %+v, %v", step, err)
	}
	ul := step.CompleteParams.UserLogin
	t.Cleanup(ul.Client.Disconnect)
	if ul.ID != "alice@example.com" {
		t.Errorf("login id = %q, want the lower-cased passport", ul.ID)
	}
	stored, err := br.DB.UserLogin.GetByID(ctx, "alice@example.com")
	if err != nil || stored == nil {
		t.Fatalf("login not stored: %v", err)
	}
	meta := stored.Metadata.(*database.UserLoginMetadata)
	if meta.Password == "" || strings.Contains(meta.Password, "right-password") {
		t.Fatalf("password not sealed: %q", meta.Password)
	}
	if plain, err := conn.sealer.Open(meta.Password, "alice@example.com"); err != nil || plain != "right-password" {
		t.Fatalf("sealed password does not open: %v", err)
	}
	if len(meta.MachineGUID) != 38 || meta.ProtocolVersion != 18 {
		t.Errorf("metadata = %+v", meta)
	}
	if !ul.Client.IsLoggedIn() {
		t.Error("client not logged in after the login flow")
	}
	// One account per user by default: a second login is refused before asking for a password,
	// relogin of the same account is not; with no limit a second login may start.
	second, err := conn.CreateLogin(ctx, user, LoginFlowPassword)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := second.Start(ctx); !errors.As(err, &re) || re.ErrCode != ErrTooManyLogins.ErrCode || !strings.Contains(re.Err, "alice@example.com") {
		t.Errorf("second login started: %v", err)
	}
	if step, err := second.(bridgev2.LoginProcessWithOverride).StartWithOverride(ctx, ul); err != nil || step.UserInputParams.Fields[0].DefaultValue != "alice@example.com" {
		t.Errorf("relogin refused: %+v, %v", step, err)
	}
	conn.Config.MaxLoginsPerUser = 0
	third, _ := conn.CreateLogin(ctx, user, LoginFlowPassword)
	if _, err := third.Start(ctx); err != nil {
		t.Errorf("login with no limit refused: %v", err)
	}
	deadline := time.After(10 * time.Second)
	for {
		select {
		case st := <-mx.states:
			if st.StateEvent == status.StateConnected {
				return
			}
		case <-deadline:
			t.Fatal("no CONNECTED bridge state after login")
		}
	}
}
