package abch

import (
	"errors"
	"strings"
	"testing"
)

// seedFiles are the fixtures every fuzz target starts from, besides its corpus directory.
var seedFiles = []string{
	"FindMembership.response.xml",
	"ABFindAll.response.xml",
	"ABFindContactsPaged.response.xml",
	"ABContactAdd.response.xml",
	"Fault.fullsync.xml",
	"Fault.memberdoesnotexist.xml",
}

func addSeeds(f *testing.F) {
	for _, name := range seedFiles {
		f.Add(readFixture(f, name))
	}
	f.Add(soapResponse(`<FindMembershipResponse><FindMembershipResult><Services><Service><Memberships><Membership><Members><Member><PassportName>A@B.C</PassportName><Deleted>false</Deleted></Member></Members><MemberRole>Pending</MemberRole></Membership></Memberships></Service></Services></FindMembershipResult></FindMembershipResponse>`))
	f.Add([]byte(`<Envelope><Body><Fault><Code><Value>x</Value></Code></Fault></Body></Envelope>`))
	f.Add([]byte("<"))
}

// checkParseError asserts a parse error is one of the documented kinds.
func checkParseError(t *testing.T, err error) {
	var fault *Fault
	if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrTooManyEntries) && !errors.As(err, &fault) {
		t.Fatalf("unexpected error kind: %v", err)
	}
}

func checkPassportOut(t *testing.T, p string) {
	if p != strings.ToLower(p) || !strings.Contains(p, "@") || checkField("passport", p) != nil {
		t.Fatalf("bad passport in result: %q", p)
	}
}

func FuzzParseFindMembership(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := parseFindMembership(data)
		if err != nil {
			checkParseError(t, err)
			return
		}
		total := 0
		for role, list := range m.Members {
			if !role.valid() {
				t.Fatalf("unknown role %q in result", role)
			}
			for _, mem := range list {
				total++
				if mem.Role != role {
					t.Fatalf("member %+v listed under %q", mem, role)
				}
				checkPassportOut(t, mem.Passport)
			}
		}
		if total > MaxEntries {
			t.Fatalf("%d members accepted", total)
		}
	})
}

func FuzzParseAddressBook(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, want := range []string{"ABFindAllResponse", "ABFindContactsPagedResponse"} {
			ab, err := parseAddressBook(data, want)
			if err != nil {
				checkParseError(t, err)
				continue
			}
			if len(ab.Contacts)+len(ab.Groups) > MaxEntries {
				t.Fatalf("%d entries accepted", len(ab.Contacts)+len(ab.Groups))
			}
			for _, c := range ab.Contacts {
				checkPassportOut(t, c.Passport)
				if strings.EqualFold(c.Type, "Me") {
					t.Fatalf("Me entry among contacts: %+v", c)
				}
			}
			if ab.Me != nil && !strings.EqualFold(ab.Me.Type, "Me") {
				t.Fatalf("Me has type %q", ab.Me.Type)
			}
			for _, g := range ab.Groups {
				if g.ID == "" {
					t.Fatal("group without id")
				}
			}
		}
		if id, err := parseContactAdd(data); err == nil && checkField("guid", id) != nil {
			t.Fatalf("bad guid %q accepted", id)
		}
	})
}

func FuzzParseFault(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		fault, err := parseFault(data)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		if fault == nil {
			return
		}
		if len(fault.Code) > maxFaultCode || len(fault.ErrorCode) > maxFaultCode || len(fault.String) > maxFaultString {
			t.Fatalf("fault fields not bounded: %d/%d/%d", len(fault.Code), len(fault.ErrorCode), len(fault.String))
		}
		if msg := fault.Error(); len(msg) > 2*maxFaultCode+maxFaultErrorText+64 {
			t.Fatalf("Error() is %d bytes", len(msg))
		}
		_ = IsFullSyncRequired(fault)
	})
}
