package abch

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// soapResponse wraps body in a minimal SOAP envelope.
func soapResponse(body string) []byte {
	return []byte(`<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soap:Body>` +
		body + `</soap:Body></soap:Envelope>`)
}

func TestParseFindMembership(t *testing.T) {
	tests := []struct {
		name    string
		data    []byte
		want    map[Role][]Member
		wantErr error
	}{
		{
			name: "escargot sample",
			data: readFixture(t, "FindMembership.response.xml"),
			want: map[Role][]Member{
				RoleAllow:   {{Passport: "bob@example.com", MembershipID: "Allow/2ad08235-0ca5-4637-a1ec-490b3fba04f4", Role: RoleAllow}},
				RoleReverse: {{Passport: "bob@example.com", MembershipID: "Reverse/2ad08235-0ca5-4637-a1ec-490b3fba04f4", Role: RoleReverse}},
			},
		},
		{
			name: "several services, deleted and e-mail members, role after members",
			data: soapResponse(`<FindMembershipResponse xmlns="http://www.msn.com/webservices/AddressBook"><FindMembershipResult><Services>
<Service><Memberships>
 <Membership><MemberRole>Allow</MemberRole><Members>
  <Member xsi:type="PassportMember"><MembershipId>11</MembershipId><DisplayName>Dave D</DisplayName><Deleted>false</Deleted><PassportName> Dave@Example.COM </PassportName></Member>
  <Member xsi:type="PassportMember"><MembershipId>12</MembershipId><Deleted>true</Deleted><PassportName>old@example.com</PassportName></Member>
  <Member xsi:type="EmailMember"><MembershipId>13</MembershipId><Email>yahoo@yahoo.com</Email></Member>
  <Member xsi:type="CircleMember"><MembershipId>14</MembershipId><CircleId>00000000-0000-0000-0009-000000000001</CircleId></Member>
 </Members></Membership>
 <Membership><Members><Member><PassportName>erin@example.com</PassportName></Member></Members><MemberRole>Pending</MemberRole></Membership>
 <Membership><MemberRole>Block</MemberRole><Members><Member><PassportName>mallory@example.com</PassportName></Member></Members></Membership>
</Memberships><Info><Handle><Id>1</Id><Type>Messenger</Type></Handle></Info></Service>
<Service><Memberships><Membership><MemberRole>Allow</MemberRole><Members><Member><PassportName>profile@example.com</PassportName></Member></Members></Membership>
</Memberships><Info><Handle><Id>2</Id><Type>Profile</Type></Handle></Info></Service>
</Services></FindMembershipResult></FindMembershipResponse>`),
			want: map[Role][]Member{
				RoleAllow: {
					{Passport: "dave@example.com", DisplayName: "Dave D", MembershipID: "11", Role: RoleAllow},
					{Passport: "yahoo@yahoo.com", MembershipID: "13", Role: RoleAllow},
				},
				RolePending: {{Passport: "erin@example.com", Role: RolePending}},
				RoleBlock:   {{Passport: "mallory@example.com", Role: RoleBlock}},
			},
		},
		{
			name: "empty result",
			data: soapResponse(`<FindMembershipResponse xmlns="http://www.msn.com/webservices/AddressBook"><FindMembershipResult/></FindMembershipResponse>`),
			want: map[Role][]Member{},
		},
		{name: "fault", data: readFixture(t, "Fault.memberdoesnotexist.xml"), wantErr: &Fault{}},
		{name: "wrong response element", data: soapResponse(`<ABFindAllResponse/>`), wantErr: ErrMalformed},
		{name: "not xml", data: []byte("500: Internal Server Error"), wantErr: ErrMalformed},
		{name: "empty", data: nil, wantErr: ErrMalformed},
		{name: "not an envelope", data: []byte(`<html><body>hi</body></html>`), wantErr: ErrMalformed},
		{name: "truncated", data: readFixture(t, "FindMembership.response.xml")[:2000], wantErr: ErrMalformed},
		{name: "too deep", data: soapResponse(strings.Repeat("<a>", 200) + strings.Repeat("</a>", 200)), wantErr: ErrMalformed},
		{
			name: "too many members",
			data: soapResponse(`<FindMembershipResponse><FindMembershipResult><Services><Service><Memberships><Membership><MemberRole>Allow</MemberRole><Members>` +
				strings.Repeat(`<Member><PassportName>x@example.com</PassportName></Member>`, MaxEntries+1) +
				`</Members></Membership></Memberships></Service></Services></FindMembershipResult></FindMembershipResponse>`),
			wantErr: ErrTooManyEntries,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseFindMembership(tt.data)
			if tt.wantErr != nil {
				checkErr(t, err, tt.wantErr)
				return
			}
			if err != nil {
				t.Fatalf("parseFindMembership: %v", err)
			}
			if !reflect.DeepEqual(got.Members, tt.want) {
				t.Errorf("members\n got %+v\nwant %+v", got.Members, tt.want)
			}
		})
	}
}

// checkErr asserts err matches want: a *Fault target matches any fault, others use errors.Is.
func checkErr(t *testing.T, err, want error) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %v", want)
	}
	if _, ok := want.(*Fault); ok {
		var f *Fault
		if !errors.As(err, &f) {
			t.Fatalf("error %v is not a *Fault", err)
		}
		return
	}
	if !errors.Is(err, want) {
		t.Fatalf("error %v, want %v", err, want)
	}
}

func TestParseAddressBook(t *testing.T) {
	tests := []struct {
		name    string
		file    string
		data    []byte
		want    string // the response element
		wantAB  *AddressBook
		wantErr error
	}{
		{
			name: "ABFindContactsPaged escargot sample",
			file: "ABFindContactsPaged.response.xml",
			want: "ABFindContactsPagedResponse",
			wantAB: &AddressBook{
				Contacts: []Contact{{ID: "2ad08235-0ca5-4637-a1ec-490b3fba04f4", Passport: "bob@example.com", DisplayName: "bob@example.com", Type: "Regular", IsMessengerUser: true}},
				Me:       &Contact{ID: "fd1b1b6b-6a6c-4790-8aed-5d24b5374836", Passport: "alice@example.com", DisplayName: "alice@example.com", Type: "Me"},
			},
		},
		{
			name: "ABFindAll with groups, nickname, deleted entries",
			file: "ABFindAll.response.xml",
			want: "ABFindAllResponse",
			wantAB: &AddressBook{
				Contacts: []Contact{
					{ID: "2ad08235-0ca5-4637-a1ec-490b3fba04f4", Passport: "bob@example.com", DisplayName: "Bob (probe)", NickName: "Bobby", Type: "Regular", IsMessengerUser: true, GroupIDs: []string{"4b2c1d2e-0f11-4a3b-9c8d-7e6f5a4b3c2d"}},
					{ID: "7c3e0000-1111-4222-8333-444455556666", Passport: "carol@example.com", DisplayName: "carol@example.com", Type: "LivePending"},
				},
				Groups: []Group{{ID: "4b2c1d2e-0f11-4a3b-9c8d-7e6f5a4b3c2d", Name: "Friends & Family"}},
				Me:     &Contact{ID: "fd1b1b6b-6a6c-4790-8aed-5d24b5374836", Passport: "alice@example.com", DisplayName: "Alice (probe)", Type: "Me"},
			},
		},
		{
			name: "yahoo contact through emails",
			data: soapResponse(`<ABFindAllResponse><ABFindAllResult><contacts><Contact><contactId>c1</contactId><contactInfo><contactType>Regular</contactType>` +
				`<emails><ContactEmail><contactEmailType>Messenger2</contactEmailType><email>Yim@Yahoo.com</email><isMessengerEnabled>true</isMessengerEnabled></ContactEmail></emails>` +
				`<isMessengerUser>false</isMessengerUser></contactInfo></Contact><Contact><contactId>c2</contactId><contactInfo><contactType>Regular</contactType><displayName>no address</displayName></contactInfo></Contact></contacts></ABFindAllResult></ABFindAllResponse>`),
			want:   "ABFindAllResponse",
			wantAB: &AddressBook{Contacts: []Contact{{ID: "c1", Passport: "yim@yahoo.com", Type: "Regular"}}},
		},
		{name: "sample is not a FindAll", file: "ABFindContactsPaged.response.xml", want: "ABFindAllResponse", wantErr: ErrMalformed},
		{name: "full sync fault", file: "Fault.fullsync.xml", want: "ABFindAllResponse", wantErr: &Fault{}},
		{name: "bad xml", data: []byte(`<soap:Envelope><soap:Body><ABFindAllResponse>`), want: "ABFindAllResponse", wantErr: ErrMalformed},
		{
			name: "too many contacts",
			data: soapResponse(`<ABFindAllResponse><ABFindAllResult><contacts>` +
				strings.Repeat(`<Contact><contactInfo><passportName>a@b.c</passportName></contactInfo></Contact>`, MaxEntries+1) +
				`</contacts></ABFindAllResult></ABFindAllResponse>`),
			want:    "ABFindAllResponse",
			wantErr: ErrTooManyEntries,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := tt.data
			if tt.file != "" {
				data = readFixture(t, tt.file)
			}
			got, err := parseAddressBook(data, tt.want)
			if tt.wantErr != nil {
				checkErr(t, err, tt.wantErr)
				return
			}
			if err != nil {
				t.Fatalf("parseAddressBook: %v", err)
			}
			if !reflect.DeepEqual(got, tt.wantAB) {
				t.Errorf("address book\n got %+v (me %+v)\nwant %+v (me %+v)", got, got.Me, tt.wantAB, tt.wantAB.Me)
			}
		})
	}
}

func TestParseFault(t *testing.T) {
	tests := []struct {
		name      string
		data      []byte
		want      *Fault
		fullSync  bool
		wantError bool
	}{
		{
			name:     "full sync",
			data:     readFixture(t, "Fault.fullsync.xml"),
			want:     &Fault{Code: "soap:Client", String: "Full sync required.  Details: Delta syncs disabled.", ErrorCode: "FullSyncRequired"},
			fullSync: true,
		},
		{
			name: "member does not exist",
			data: readFixture(t, "Fault.memberdoesnotexist.xml"),
			want: &Fault{Code: "soap:Client", String: "Member does not exist", ErrorCode: "MemberDoesNotExist"},
		},
		{
			name: "soap 1.2 fault",
			data: []byte(`<S:Envelope xmlns:S="http://www.w3.org/2003/05/soap-envelope"><S:Body><S:Fault><S:Code><S:Value>S:Sender</S:Value></S:Code><S:Reason><S:Text>bad</S:Text></S:Reason></S:Fault></S:Body></S:Envelope>`),
			want: &Fault{Code: "S:Sender", String: "bad"},
		},
		{name: "no fault", data: readFixture(t, "FindMembership.response.xml")},
		{name: "fault outside the body is ignored", data: soapResponse(`<X><Fault><faultcode>x</faultcode></Fault></X>`)},
		{name: "garbage", data: []byte("<<<"), wantError: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseFault(tt.data)
			if tt.wantError {
				if err == nil {
					t.Fatalf("no error for %q", tt.data)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("fault %+v, want %+v", got, tt.want)
			}
			if got != nil && IsFullSyncRequired(got) != tt.fullSync {
				t.Errorf("IsFullSyncRequired = %v, want %v", !tt.fullSync, tt.fullSync)
			}
		})
	}
}

func TestFaultErrorTruncatesTrace(t *testing.T) {
	f := &Fault{Code: "soap:Server", String: "Traceback " + strings.Repeat("é", 500), HTTPStatus: 500}
	msg := f.Error()
	if len(msg) > 300 || !strings.Contains(msg, "HTTP 500") || !strings.Contains(msg, "soap:Server") {
		t.Errorf("Error() = %q", msg)
	}
	if !strings.HasSuffix(msg, "…") {
		t.Errorf("truncated message should end with an ellipsis: %q", msg)
	}
}

func TestParseContactAdd(t *testing.T) {
	id, err := parseContactAdd(readFixture(t, "ABContactAdd.response.xml"))
	if err != nil || id != "6bd5e1a5-3c0f-4b8e-9f0e-1b2c3d4e5f60" {
		t.Fatalf("parseContactAdd = %q, %v", id, err)
	}
	if _, err := parseContactAdd(soapResponse(`<ABContactAddResponse><ABContactAddResult/></ABContactAddResponse>`)); !errors.Is(err, ErrMalformed) {
		t.Fatalf("missing guid: err = %v", err)
	}
}
