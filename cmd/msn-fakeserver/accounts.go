package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/msnbridge/msnbridge/msn/msntest"
)

// Account is one entry of the account file.
type Account struct {
	// Passport is the account's e-mail address.
	Passport string `json:"passport"`
	// Password is what a client must log in with (scripted contacts need none).
	Password string `json:"password,omitempty"`
	// Name is the friendly name (default: the passport).
	Name string `json:"name,omitempty"`
	// PSM is the personal message.
	PSM string `json:"psm,omitempty"`
	// Status is a scripted contact's presence: NLN, BSY, IDL, BRB, AWY, PHN, LUN or FLN
	// (default NLN for scripted contacts).
	Status string `json:"status,omitempty"`
	// Contacts are the passports on this account's forward and allow lists.
	Contacts []string `json:"contacts,omitempty"`
	// Scripted makes the account a contact driven through the control API: it appears online
	// without a client, and what it receives is recorded.
	Scripted bool `json:"scripted,omitempty"`
	// Echo makes a scripted contact answer every text message with the same text.
	Echo bool `json:"echo,omitempty"`
	// Caps are a scripted contact's client capabilities, "caps" or "caps:capsex" in decimal
	// (e.g. with 0x20, multi-packet messaging, the contact reassembles chunked messages).
	Caps string `json:"caps,omitempty"`
}

// AccountFile is the JSON document given with -accounts.
type AccountFile struct {
	Accounts []Account `json:"accounts"`
}

// maxAccountFile bounds the account file.
const maxAccountFile = 1 << 20

var validStatus = map[string]bool{"NLN": true, "BSY": true, "IDL": true, "BRB": true, "AWY": true, "PHN": true, "LUN": true, "HDN": true, "FLN": true}

// loadAccounts reads and checks an account file.
func loadAccounts(path string) ([]Account, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return parseAccounts(io.LimitReader(f, maxAccountFile+1))
}

func parseAccounts(r io.Reader) ([]Account, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("reading accounts: %w", err)
	}
	if len(data) > maxAccountFile {
		return nil, fmt.Errorf("account file larger than %d bytes", maxAccountFile)
	}
	var file AccountFile
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&file); err != nil {
		return nil, fmt.Errorf("parsing accounts: %w", err)
	}
	if err := checkAccounts(file.Accounts); err != nil {
		return nil, err
	}
	return file.Accounts, nil
}

func checkAccounts(accounts []Account) error {
	if len(accounts) == 0 {
		return errors.New("no accounts")
	}
	seen := map[string]bool{}
	for i := range accounts {
		a := &accounts[i]
		a.Passport = strings.ToLower(strings.TrimSpace(a.Passport))
		if !strings.Contains(a.Passport, "@") || strings.ContainsAny(a.Passport, " \t\r\n") {
			return fmt.Errorf("account %d: passport %q is not an e-mail address", i+1, a.Passport)
		}
		if seen[a.Passport] {
			return fmt.Errorf("account %s listed twice", a.Passport)
		}
		seen[a.Passport] = true
		a.Status = strings.ToUpper(a.Status)
		if a.Status != "" && !validStatus[a.Status] {
			return fmt.Errorf("account %s: unknown status %q", a.Passport, a.Status)
		}
		if a.Caps != "" && !validCaps(a.Caps) {
			return fmt.Errorf("account %s: caps %q are not \"caps\" or \"caps:capsex\" in decimal", a.Passport, a.Caps)
		}
		if a.Echo && !a.Scripted {
			return fmt.Errorf("account %s: echo needs scripted", a.Passport)
		}
		if !a.Scripted && a.Password == "" {
			return fmt.Errorf("account %s: a client account needs a password", a.Passport)
		}
	}
	for _, a := range accounts {
		for _, c := range a.Contacts {
			if !seen[strings.ToLower(c)] {
				return fmt.Errorf("account %s: contact %s is not an account", a.Passport, c)
			}
		}
	}
	return nil
}

// demoAccounts is what -demo serves: one user with a few scripted contacts, one of them an echo.
func demoAccounts() []Account {
	user := "demo@example.com"
	return []Account{
		{Passport: user, Password: "demo-password", Name: "Demo User", Contacts: []string{"echo@example.com", "bob@example.com", "carol@example.com"}},
		{Passport: "echo@example.com", Password: "unused-echo", Name: "Echo Bot", PSM: "I repeat everything you say", Status: "NLN", Scripted: true, Echo: true, Contacts: []string{user}},
		{Passport: "bob@example.com", Password: "unused-bob", Name: "Bob", PSM: "Scripted through the control API", Status: "AWY", Scripted: true, Contacts: []string{user}},
		{Passport: "carol@example.com", Password: "unused-carol", Name: "Carol", Status: "FLN", Scripted: true, Contacts: []string{user}},
	}
}

// applyAccounts creates the accounts, their lists and the scripted contacts' presence.
func applyAccounts(srv *msntest.Server, accounts []Account) error {
	for _, a := range accounts {
		pw := a.Password
		if pw == "" {
			pw = "scripted-" + a.Passport
		}
		if err := srv.AddAccount(a.Passport, pw, a.Name); err != nil {
			return fmt.Errorf("adding %s: %w", a.Passport, err)
		}
	}
	for _, a := range accounts {
		for _, c := range a.Contacts {
			if err := srv.AddContact(a.Passport, strings.ToLower(c), msntest.FL|msntest.AL); err != nil {
				return fmt.Errorf("adding %s to %s's list: %w", c, a.Passport, err)
			}
		}
	}
	for _, a := range accounts {
		if a.PSM != "" {
			if err := srv.SetPersonalMessage(a.Passport, a.PSM); err != nil {
				return fmt.Errorf("personal message of %s: %w", a.Passport, err)
			}
		}
		if !a.Scripted {
			continue
		}
		if a.Caps != "" {
			if err := srv.SetCapabilities(a.Passport, a.Caps, ""); err != nil {
				return fmt.Errorf("capabilities of %s: %w", a.Passport, err)
			}
		}
		status := a.Status
		if status == "" {
			status = "NLN"
		}
		if status != "FLN" {
			if err := srv.Contact(a.Passport).SignIn(status); err != nil {
				return fmt.Errorf("signing in %s: %w", a.Passport, err)
			}
		}
	}
	return nil
}

// validCaps accepts "caps" or "caps:capsex", each a 32-bit decimal number.
func validCaps(s string) bool {
	for _, part := range strings.SplitN(s, ":", 2) {
		if _, err := strconv.ParseUint(part, 10, 32); err != nil {
			return false
		}
	}
	return true
}
