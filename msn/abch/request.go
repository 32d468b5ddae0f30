package abch

import (
	"encoding/xml"
	"strings"
)

// The request bodies follow the ones Windows Live Messenger sends (see the soap-samples and
// transcripts): same element order, same namespaces, no whitespace between elements.

const (
	nsAB       = "http://www.msn.com/webservices/AddressBook"
	nsXSI      = "http://www.w3.org/2001/XMLSchema-instance"
	emptyABID  = "00000000-0000-0000-0000-000000000000"
	zeroChange = "0001-01-01T00:00:00.0000000-08:00"
)

// esc returns s with the XML special characters escaped.
func esc(s string) string {
	var b strings.Builder
	// xml.EscapeText only fails when the writer fails; strings.Builder never does.
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

// buildEnvelope wraps body (the SOAP method element) in the envelope with the
// ABApplicationHeader and ABAuthHeader.
func buildEnvelope(appID, scenario, cacheKey, ticket, body string) string {
	var b strings.Builder
	b.Grow(len(body) + len(ticket) + 1024)
	b.WriteString(`<?xml version="1.0" encoding="utf-8"?>` + "\n")
	b.WriteString(`<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:soapenc="http://schemas.xmlsoap.org/soap/encoding/">` + "\n")
	b.WriteString("<soap:Header>\n")
	b.WriteString(`<ABApplicationHeader xmlns="` + nsAB + `">`)
	b.WriteString("<ApplicationId>" + esc(appID) + "</ApplicationId>")
	b.WriteString("<IsMigration>false</IsMigration>")
	b.WriteString("<PartnerScenario>" + esc(scenario) + "</PartnerScenario>")
	if cacheKey != "" {
		b.WriteString("<CacheKey>" + esc(cacheKey) + "</CacheKey>")
	}
	b.WriteString("</ABApplicationHeader>\n")
	b.WriteString(`<ABAuthHeader xmlns="` + nsAB + `">`)
	b.WriteString("<ManagedGroupRequest>false</ManagedGroupRequest>")
	b.WriteString("<TicketToken>" + esc(ticket) + "</TicketToken>")
	b.WriteString("</ABAuthHeader>\n")
	b.WriteString("</soap:Header>\n")
	b.WriteString("<soap:Body>" + body + "</soap:Body>\n")
	b.WriteString("</soap:Envelope>")
	return b.String()
}

func findMembershipBody() string {
	return `<FindMembership xmlns="` + nsAB + `"><serviceFilter><Types>` +
		`<ServiceType>Messenger</ServiceType><ServiceType>Invitation</ServiceType>` +
		`<ServiceType>SocialNetwork</ServiceType><ServiceType>Space</ServiceType>` +
		`<ServiceType>Profile</ServiceType></Types></serviceFilter></FindMembership>`
}

func findAllBody() string {
	return `<ABFindAll xmlns="` + nsAB + `"><abId>` + emptyABID + `</abId><abView>Full</abView>` +
		`<deltasOnly>false</deltasOnly><lastChange>` + zeroChange + `</lastChange></ABFindAll>`
}

func findContactsPagedBody() string {
	return `<ABFindContactsPaged xmlns="` + nsAB + `"><filterOptions><DeltasOnly>false</DeltasOnly>` +
		`<LastChanged>` + zeroChange + `</LastChanged>` +
		`<ContactFilter><IncludeHiddenContacts>true</IncludeHiddenContacts></ContactFilter>` +
		`<IncludeSoftDeletedContacts>false</IncludeSoftDeletedContacts></filterOptions>` +
		`<abView>MessengerClient8</abView><extendedContent>AB AllGroups CircleResult</extendedContent>` +
		`</ABFindContactsPaged>`
}

func contactAddBody(passport string) string {
	return `<ABContactAdd xmlns="` + nsAB + `"><abId>` + emptyABID + `</abId><contacts><Contact>` +
		`<contactInfo><passportName>` + esc(passport) + `</passportName>` +
		`<isMessengerUser>true</isMessengerUser><contactType>LivePending</contactType></contactInfo>` +
		`</Contact></contacts><options><EnableAllowListManagement>true</EnableAllowListManagement>` +
		`</options></ABContactAdd>`
}

func contactDeleteBody(contactID string) string {
	return `<ABContactDelete xmlns="` + nsAB + `"><abId>` + emptyABID + `</abId><contacts><Contact>` +
		`<contactId>` + esc(contactID) + `</contactId></Contact></contacts></ABContactDelete>`
}

// memberBody is the shared body of AddMember and DeleteMember.
func memberBody(method string, role Role, passport, membershipID string) string {
	var b strings.Builder
	b.WriteString("<" + method + ` xmlns="` + nsAB + `">`)
	b.WriteString(`<serviceHandle><Id>0</Id><Type>Messenger</Type><ForeignId></ForeignId></serviceHandle>`)
	b.WriteString(`<memberships><Membership><MemberRole>` + esc(string(role)) + `</MemberRole><Members>`)
	b.WriteString(`<Member xsi:type="PassportMember" xmlns:xsi="` + nsXSI + `">`)
	if membershipID != "" {
		b.WriteString("<MembershipId>" + esc(membershipID) + "</MembershipId>")
	}
	b.WriteString("<Type>Passport</Type><State>Accepted</State>")
	b.WriteString("<PassportName>" + esc(passport) + "</PassportName>")
	b.WriteString("</Member></Members></Membership></memberships></" + method + ">")
	return b.String()
}

func addMemberBody(role Role, passport string) string {
	return memberBody("AddMember", role, passport, "")
}

func deleteMemberBody(role Role, passport, membershipID string) string {
	return memberBody("DeleteMember", role, passport, membershipID)
}
