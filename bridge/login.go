package bridge

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix/bridgev2"
	bridgedb "maunium.net/go/mautrix/bridgev2/database"
	"maunium.net/go/mautrix/bridgev2/networkid"
	"maunium.net/go/mautrix/bridgev2/status"

	"github.com/msnbridge/msnbridge/database"
	"github.com/msnbridge/msnbridge/msn/auth"
	"github.com/msnbridge/msnbridge/msn/ns"
	"github.com/msnbridge/msnbridge/puppet"
)

// LoginFlowPassword is the id of the passport + password login flow.
const LoginFlowPassword = "password"

// Login step ids.
const (
	LoginStepCredentials = "net.msnbridge.login.credentials"
	LoginStepComplete    = "net.msnbridge.login.complete"
)

// Login errors shown to the user.
var (
	ErrWrongPassword = bridgev2.RespError{ErrCode: "NET.MSNBRIDGE.WRONG_PASSWORD", Err: "Wrong e-mail or password", StatusCode: 403}
	ErrInvalidInput  = bridgev2.RespError{ErrCode: "M_INVALID_PARAM", Err: "Invalid input", StatusCode: 400}
	ErrTooManyLogins = bridgev2.RespError{ErrCode: "NET.MSNBRIDGE.TOO_MANY_LOGINS", Err: "Too many MSN logins", StatusCode: 403}
)

// GetLoginFlows lists the login flows: passport and password.
func (c *Connector) GetLoginFlows() []bridgev2.LoginFlow {
	return []bridgev2.LoginFlow{{
		Name:        "Passport and password",
		Description: "Log in with your MSN passport (e-mail address) and password.",
		ID:          LoginFlowPassword,
	}}
}

// CreateLogin starts a login process.
func (c *Connector) CreateLogin(ctx context.Context, user *bridgev2.User, flowID string) (bridgev2.LoginProcess, error) {
	if flowID != LoginFlowPassword {
		return nil, bridgev2.ErrInvalidLoginFlowID
	}
	return &passwordLogin{conn: c, user: user, log: user.Log.With().Str("action", "msn login").Logger()}, nil
}

type passwordLogin struct {
	conn     *Connector
	user     *bridgev2.User
	log      zerolog.Logger
	override *bridgev2.UserLogin
}

var (
	_ bridgev2.LoginProcessUserInput    = (*passwordLogin)(nil)
	_ bridgev2.LoginProcessWithOverride = (*passwordLogin)(nil)
)

func (p *passwordLogin) Start(ctx context.Context) (*bridgev2.LoginStep, error) {
	if limit := p.conn.Config.MaxLoginsPerUser; limit > 0 && p.override == nil {
		if ids := p.user.GetUserLoginIDs(); len(ids) >= limit {
			return nil, ErrTooManyLogins.WithMessage("You are already logged in to MSN as %s (this bridge allows %d account(s) per user, network.max_logins_per_user). Use relogin for that account, or logout first.",
				joinIDs(ids), limit)
		}
	}
	fields := []bridgev2.LoginInputDataField{{
		Type:        bridgev2.LoginInputFieldTypeEmail,
		ID:          "passport",
		Name:        "Passport (e-mail address)",
		Description: "The e-mail address of your MSN account",
	}, {
		Type: bridgev2.LoginInputFieldTypePassword,
		ID:   "password",
		Name: "Password",
	}}
	if p.override != nil {
		if meta, ok := p.override.Metadata.(*database.UserLoginMetadata); ok && meta.Passport != "" {
			fields[0].DefaultValue = meta.Passport
		}
	}
	if field, ok := p.serverField(); ok {
		fields = append(fields, field)
	}
	return &bridgev2.LoginStep{
		Type:            bridgev2.LoginStepTypeUserInput,
		StepID:          LoginStepCredentials,
		Instructions:    "Enter your MSN passport and password",
		UserInputParams: &bridgev2.LoginUserInputParams{Fields: fields},
	}, nil
}

func (p *passwordLogin) StartWithOverride(ctx context.Context, override *bridgev2.UserLogin) (*bridgev2.LoginStep, error) {
	p.override = override
	return p.Start(ctx)
}

func (p *passwordLogin) Cancel() {}

func joinIDs(ids []networkid.UserLoginID) string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = string(id)
	}
	return strings.Join(out, ", ")
}

// newMachineGUID makes a random "{xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx}" GUID.
func newMachineGUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = (b[6] & 0x0f) | 0x40
	b[8] = (b[8] & 0x3f) | 0x80
	return fmt.Sprintf("{%x-%x-%x-%x-%x}", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// loginError turns an MSN login failure into a message for the user. Secrets are never part of it.
func loginError(err error, server string) error {
	var netErr net.Error
	var opErr *net.OpError
	var authErr *auth.Error
	switch {
	case errors.Is(err, auth.ErrBadCredentials):
		return ErrWrongPassword
	case errors.Is(err, auth.ErrThrottled):
		return bridgev2.RespError{ErrCode: "NET.MSNBRIDGE.THROTTLED", StatusCode: 503,
			Err: fmt.Sprintf("The MSN login service is busy; try again in a few minutes (%v)", err)}
	case errors.Is(err, ns.ErrSignedInElsewhere):
		return bridgev2.RespError{ErrCode: "NET.MSNBRIDGE.SIGNED_IN_ELSEWHERE", Err: "The account signed in elsewhere during login", StatusCode: 409}
	case errors.As(err, &authErr):
		return bridgev2.RespError{ErrCode: "NET.MSNBRIDGE.AUTH_SERVICE", StatusCode: 502,
			Err: fmt.Sprintf("The MSN login service %s failed: %v", authErr.URL, authErr.Err)}
	case errors.As(err, &opErr), errors.As(err, &netErr), errors.Is(err, ns.ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		return bridgev2.RespError{ErrCode: "NET.MSNBRIDGE.UNREACHABLE", StatusCode: 502,
			Err: fmt.Sprintf("Could not reach the MSN server %s: %v", server, err)}
	default:
		return bridgev2.RespError{ErrCode: "NET.MSNBRIDGE.LOGIN_FAILED", StatusCode: 502,
			Err: fmt.Sprintf("Logging in to the MSN server %s failed: %v", server, err)}
	}
}

func (p *passwordLogin) SubmitUserInput(ctx context.Context, input map[string]string) (*bridgev2.LoginStep, error) {
	passport, err := puppet.NormalizePassport(input["passport"])
	if err != nil {
		return nil, ErrInvalidInput.WithMessage("%s", err.Error())
	}
	password := input["password"]
	if password == "" || len(password) > 1024 {
		return nil, ErrInvalidInput.WithMessage("The password must be 1 to 1024 characters long")
	}
	srv, err := p.chosenServer(input["server"])
	if err != nil {
		return nil, err
	}
	server := srv.Name
	if p.override != nil && string(p.override.ID) != passport {
		return nil, ErrInvalidInput.WithMessage("Re-login must use the same passport (%s)", p.override.ID)
	}
	loginID := networkid.UserLoginID(passport)
	meta := &database.UserLoginMetadata{Passport: passport, Server: server, MachineGUID: newMachineGUID()}
	if existing, _ := p.conn.Bridge.GetExistingUserLoginByID(ctx, loginID); existing != nil {
		if old, ok := existing.Metadata.(*database.UserLoginMetadata); ok {
			if old.MachineGUID != "" {
				meta.MachineGUID = old.MachineGUID
			}
			// A re-login keeps the status and personal message the user chose.
			meta.Status = old.Status
			meta.PersonalMessage, meta.PersonalMessageSet = old.PersonalMessage, old.PersonalMessageSet
		}
	}
	log := p.log.With().Str("passport", passport).Logger()
	client := newClient(p.conn, nil)
	client.log = log
	sess, err := client.dial(ctx, meta, password)
	if err != nil {
		log.Info().Str("error", redact(err.Error(), password)).Msg("MSN login failed")
		return nil, redactErr(loginError(err, srv.NSAddress), password)
	}
	sealed, err := p.conn.sealer.Seal(password, passport)
	if err != nil {
		_ = sess.Close()
		return nil, fmt.Errorf("encrypt password: %w", err)
	}
	meta.Password = sealed
	meta.ProtocolVersion = sess.Version()
	name := puppet.DecodeFriendlyName(sess.FriendlyName())
	if name == "" {
		name = passport
	}
	ul, err := p.user.NewLogin(ctx, &bridgedb.UserLogin{
		ID:         loginID,
		RemoteName: passport,
		RemoteProfile: status.RemoteProfile{
			Email: passport,
			Name:  name,
		},
		Metadata: meta,
	}, &bridgev2.NewLoginParams{
		DeleteOnConflict: true,
		LoadUserLogin: func(ctx context.Context, login *bridgev2.UserLogin) error {
			if old, ok := login.Client.(*Client); ok && old != client {
				old.Disconnect()
			}
			client.attach(login)
			login.Client = client
			return nil
		},
	})
	if err != nil {
		_ = sess.Close()
		return nil, fmt.Errorf("save login: %w", err)
	}
	client.adoptSession(sess)
	log.Info().Int("protocol", sess.Version()).Msg("MSN login succeeded")
	return &bridgev2.LoginStep{
		Type:         bridgev2.LoginStepTypeComplete,
		StepID:       LoginStepComplete,
		Instructions: fmt.Sprintf("Logged in as %s (MSNP%d)", passport, sess.Version()),
		CompleteParams: &bridgev2.LoginCompleteParams{
			UserLoginID: ul.ID,
			UserLogin:   ul,
		},
	}, nil
}
