package msntest

import (
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

const maxSOAPBody = 1 << 20

func (s *Server) httpHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/rdr/pprdr.asp", s.handleNexus)
	mux.HandleFunc("/nexus-mock", s.handleNexus)
	mux.HandleFunc("/login", s.handleLogin)
	mux.HandleFunc("/RST.srf", s.handleRST)
	mux.HandleFunc("/RST2.srf", s.handleRST)
	mux.HandleFunc("/abservice/SharingService.asmx", s.handleSharing)
	mux.HandleFunc("/abservice/abservice.asmx", s.handleAB)
	mux.HandleFunc("/rsi/rsi.asmx", s.handleRSI)
	mux.HandleFunc("/OimWS/oim.asmx", s.handleOIM)
	return mux
}

func writeXML(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxSOAPBody))
	if err != nil {
		return nil, fmt.Errorf("read body: %w", err)
	}
	return b, nil
}

func (s *Server) handleNexus(w http.ResponseWriter, r *http.Request) {
	w.Header()["Passporturls"] = []string{"DALogin=https://" + r.Host + "/login"}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = io.WriteString(w, "200: OK")
}

// parsePassport14 parses "Passport1.4 k=v,k=v" into a map (values URL-decoded).
func parsePassport14(h string) map[string]string {
	out := map[string]string{}
	rest, ok := strings.CutPrefix(strings.TrimSpace(h), "Passport1.4")
	if !ok {
		return out
	}
	for _, kv := range strings.Split(strings.TrimSpace(rest), ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			continue
		}
		if dv, err := url.QueryUnescape(v); err == nil {
			v = dv
		}
		out[strings.TrimSpace(k)] = v
	}
	return out
}

func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) {
	auth := r.Header.Get("Authorization")
	if auth == "" {
		http.Error(w, "500 Internal Server Error\n\nServer got itself in trouble", http.StatusInternalServerError)
		return
	}
	kv := parsePassport14(auth)
	p := normPassport(kv["sign-in"])
	s.mu.Lock()
	a := s.accounts[p]
	ok := a != nil && a.password == kv["pwd"]
	token := ""
	if ok {
		token = randHex(20)
		s.twnTokens[token] = twnToken{passport: p, expires: time.Now().Add(s.opts.TWNTokenTTL)}
	}
	s.mu.Unlock()
	if !ok {
		w.Header().Set("WWW-Authenticate", "Passport1.4 da-status=failed")
		http.Error(w, "401: Unauthorized", http.StatusUnauthorized)
		return
	}
	w.Header().Set("Authentication-Info", "Passport1.4 da-status=success,from-PP='"+token+"'")
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = io.WriteString(w, "200: OK")
}

func (s *Server) handleRST(w http.ResponseWriter, r *http.Request) {
	now := time.Now().UTC()
	ts := func(t time.Time) string { return t.Format("2006-01-02T15:04:05Z") }
	body, err := readBody(w, r)
	if err != nil {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	doc, err := parseXML(body)
	if err != nil {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	p := normPassport(doc.str("Username"))
	pw := doc.str("Password")
	s.mu.Lock()
	a := s.accounts[p]
	if a == nil || a.password != pw {
		s.mu.Unlock()
		if r.URL.Path == "/RST2.srf" {
			writeXML(w, http.StatusOK, fmt.Sprintf(rst2Fault, ts(now)))
		} else {
			writeXML(w, http.StatusOK, fmt.Sprintf(rstFault, ts(now)))
		}
		return
	}
	token := randHex(20)
	secret := base64.StdEncoding.EncodeToString(randBytes(24))
	exp := now.Add(s.opts.SSOTokenTTL)
	s.ssoTokens[token] = ssoToken{passport: p, secret: secret, expires: exp}
	puid, cid := strings.ToUpper(a.puid), a.puid
	s.mu.Unlock()
	var b strings.Builder
	fmt.Fprintf(&b, rstHeader, puid, ts(now), cid, xmlEsc(p), ts(now), ts(exp))
	n := 1
	for _, addr := range doc.findAll("Address") {
		svc := strings.TrimSpace(addr.text.String())
		if svc == "" || svc == "http://Passport.NET/tb" {
			continue
		}
		n++
		proof := ""
		if svc == "messengerclear.live.com" {
			proof = "<wst:RequestedProofToken>\n\t\t\t\t\t<wst:BinarySecret>" + secret + "</wst:BinarySecret>\n\t\t\t\t</wst:RequestedProofToken>"
		}
		fmt.Fprintf(&b, rstItem, xmlEsc(svc), ts(now), ts(exp), n, xmlEsc(ticketFor(token)), n, proof)
	}
	b.WriteString(rstFooter)
	writeXML(w, http.StatusOK, b.String())
}

// soapAccount authenticates a SOAP request by TicketToken or MSPAuth cookie against a live NS
// session (mu held).
func (s *Server) soapAccount(r *http.Request, doc *xnode) *Account {
	ticket := doc.str("TicketToken")
	if ticket == "" {
		if ck, err := r.Cookie("MSPAuth"); err == nil {
			ticket = ck.Value
		}
	}
	return s.accountByToken(ticket20(ticket))
}

func (s *Server) accountByToken(tok string) *Account {
	if tok == "" {
		return nil
	}
	if s.checkTicketExpiry {
		return s.accountByLiveToken(tok)
	}
	for _, c := range s.sortedNS() {
		if c.acct != nil && c.token == tok {
			return c.acct
		}
	}
	return nil
}

// soapRequest reads and parses a SOAP body and returns the body's action element.
func soapRequest(w http.ResponseWriter, r *http.Request) (*xnode, *xnode, bool) {
	if r.Method != http.MethodPost {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return nil, nil, false
	}
	body, err := readBody(w, r)
	if err != nil {
		http.Error(w, "bad request", http.StatusBadRequest)
		return nil, nil, false
	}
	doc, err := parseXML(body)
	if err != nil {
		http.Error(w, "bad request", http.StatusBadRequest)
		return nil, nil, false
	}
	b := doc.find("Body")
	if b == nil || len(b.children) == 0 {
		http.Error(w, "500 Internal Server Error", http.StatusInternalServerError)
		return nil, nil, false
	}
	return doc, b.children[0], true
}

func (s *Server) abHeader(r *http.Request) string {
	return fmt.Sprintf(abServiceHeader, randHex(64), r.Host, newGUID())
}

func abFaultXML(action, code, msg string) string {
	return fmt.Sprintf(abFault, xmlEsc(msg), action, code, xmlEsc(msg))
}

// serveABService is the prologue the sharing and AB services share: a POSTed SOAP body
// whose ticket (TicketToken or MSPAuth cookie) names a logged-in account (403 otherwise)
// and whose action has children (500 otherwise); then action runs with mu held.
func (s *Server) serveABService(w http.ResponseWriter, r *http.Request, action func(w http.ResponseWriter, r *http.Request, a *Account, act *xnode)) {
	doc, act, ok := soapRequest(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.soapAccount(r, doc)
	if a == nil {
		http.Error(w, "403 Forbidden", http.StatusForbidden)
		return
	}
	if len(act.children) == 0 {
		http.Error(w, "500 Internal Server Error", http.StatusInternalServerError)
		return
	}
	action(w, r, a, act)
}

func (s *Server) handleSharing(w http.ResponseWriter, r *http.Request) {
	s.serveABService(w, r, s.sharingAction)
}

// sharingAction answers one SharingService action for a (mu held).
func (s *Server) sharingAction(w http.ResponseWriter, r *http.Request, a *Account, act *xnode) {
	switch act.name {
	case "FindMembership":
		writeXML(w, http.StatusOK, s.abHeader(r)+s.findMembership(a)+abFooter)
	case "AddMember", "DeleteMember":
		for _, m := range act.findAll("Membership") {
			bit := map[string]int{"Allow": AL, "Block": BL, "Reverse": RL, "Pending": PL}[m.str("MemberRole")]
			for _, mem := range m.findAll("Member") {
				b := s.accounts[normPassport(mem.str("PassportName"))]
				if b == nil || bit == 0 {
					continue
				}
				e := a.entry(b.passport, true)
				if act.name == "AddMember" {
					e.lists |= bit
				} else {
					e.lists &^= bit
				}
			}
		}
		writeXML(w, http.StatusOK, s.abHeader(r)+"\t\t<"+act.name+"Response xmlns=\"http://www.msn.com/webservices/AddressBook\" />"+abFooter)
	default:
		http.Error(w, "500 Internal Server Error", http.StatusInternalServerError)
	}
}

func memberXML(role string, e *listEntry, cid int64) string {
	ts := e.added.Format("2006-01-02T15:04:05Z")
	return fmt.Sprintf(`<Member xsi:type="PassportMember">
													<MembershipId>%s/%s</MembershipId>
													<Type>Passport</Type>
													<State>Accepted</State>
													<Deleted>false</Deleted>
													<LastChanged>%s</LastChanged>
													<JoinedDate>%s</JoinedDate>
													<ExpirationDate>0001-01-01T00:00:00</ExpirationDate>
													<Changes />
													<PassportName>%s</PassportName>
													<IsPassportNameHidden>false</IsPassportNameHidden>
													<PassportId>0</PassportId>
													<CID>%d</CID>
													<PassportChanges />
													<LookedupByCID>false</LookedupByCID>
												</Member>`, role, e.contactID, ts, ts, xmlEsc(e.passport), cid)
}

func (s *Server) findMembership(a *Account) string {
	now := time.Now().UTC().Format("2006-01-02T15:04:05Z")
	var b strings.Builder
	b.WriteString("\t\t<FindMembershipResponse xmlns=\"http://www.msn.com/webservices/AddressBook\">\n\t\t\t<FindMembershipResult>\n\t\t\t\t<Services>\n\t\t\t\t\t<Service>\n\t\t\t\t\t\t<Memberships>")
	for _, role := range []struct {
		name string
		bit  int
	}{{"Allow", AL}, {"Block", BL}, {"Reverse", RL}, {"Pending", PL}} {
		b.WriteString("<Membership>\n\t\t\t\t\t\t\t\t\t<MemberRole>" + role.name + "</MemberRole>\n\t\t\t\t\t\t\t\t\t<Members>")
		for _, e := range a.sortedEntries() {
			if e.lists&role.bit != 0 {
				var cid int64
				if c := s.accounts[e.passport]; c != nil {
					cid = c.cid
				}
				b.WriteString(memberXML(role.name, e, cid))
			}
		}
		b.WriteString("</Members>\n\t\t\t\t\t\t\t\t\t<MembershipIsComplete>true</MembershipIsComplete>\n\t\t\t\t\t\t\t\t</Membership>")
	}
	fmt.Fprintf(&b, `
						</Memberships>
						<Info>
							<Handle>
								<Id>1</Id>
								<Type>Messenger</Type>
								<ForeignId />
							</Handle>
							<InverseRequired>false</InverseRequired>
							<AuthorizationCriteria>Everyone</AuthorizationCriteria>
							<IsBot>false</IsBot>
						</Info>
						<Changes />
						<LastChange>%s</LastChange>
						<Deleted>false</Deleted>
					</Service>
				</Services>
				<OwnerNamespace>
					<Info>
						<Handle>
							<Id>00000000-0000-0000-0000-000000000000</Id>
							<IsPassportNameHidden>false</IsPassportNameHidden>
							<CID>0</CID>
						</Handle>
						<CreatorPuid>0</CreatorPuid>
						<CreatorCID>%d</CreatorCID>
						<CreatorPassportName>%s</CreatorPassportName>
						<CircleAttributes>
							<IsPresenceEnabled>false</IsPresenceEnabled>
							<Domain>WindowsLive</Domain>
						</CircleAttributes>
						<MessengerApplicationServiceCreated>false</MessengerApplicationServiceCreated>
					</Info>
					<Changes />
					<CreateDate>%s</CreateDate>
					<LastChange>%s</LastChange>
				</OwnerNamespace>
			</FindMembershipResult>
		</FindMembershipResponse>`, now, a.cid, xmlEsc(a.passport), now, now)
	return b.String()
}

func (s *Server) contactXML(a *Account, e *listEntry) string {
	b := s.accounts[e.passport]
	name, cid := e.passport, int64(0)
	if b != nil {
		name, cid = b.friendly, b.cid
	}
	groups := ""
	if len(e.groups) > 0 {
		groups = "<groupIds>"
		for _, g := range e.groups {
			groups += "<guid>" + g + "</guid>"
		}
		groups += "</groupIds>"
	}
	return fmt.Sprintf(`<Contact>
								<contactId>%s</contactId>
	<contactInfo>%s<contactType>Regular</contactType>
		<quickName>%s</quickName><passportName>%s</passportName>
		<IsPassportNameHidden>false</IsPassportNameHidden>
		<displayName>%s</displayName>
		<puid>0</puid><CID>%d</CID>
		<IsNotMobileVisible>false</IsNotMobileVisible>
		<isMobileIMEnabled>false</isMobileIMEnabled>
		<isMessengerUser>%t</isMessengerUser>
		<isFavorite>false</isFavorite>
		<isSmtp>false</isSmtp>
		<hasSpace>false</hasSpace>
		<spotWatchState>NoDevice</spotWatchState>
		<birthdate>0001-01-01T00:00:00</birthdate><primaryEmailType>ContactEmailPersonal</primaryEmailType>
		<PrimaryLocation>ContactLocationPersonal</PrimaryLocation>
		<PrimaryPhone>ContactPhonePersonal</PrimaryPhone>
		<IsPrivate>false</IsPrivate>
		<Gender>Unspecified</Gender>
		<TimeZone>None</TimeZone>
	</contactInfo>
	<propertiesChanged />
	<fDeleted>false</fDeleted>
	<lastChange>%s</lastChange>
								</Contact>`, e.contactID, groups, xmlEsc(e.passport), xmlEsc(e.passport), xmlEsc(name), cid, e.lists&FL != 0, e.added.Format("2006-01-02T15:04:05Z"))
}

func (s *Server) meContactXML(a *Account) string {
	return fmt.Sprintf(`<Contact>
		<contactId>%s</contactId>
		<contactInfo>
			<annotations>
				<Annotation>
					<Name>MSN.IM.MBEA</Name>
					<Value>0</Value>
				</Annotation>
				<Annotation>
					<Name>MSN.IM.GTC</Name>
					<Value>%d</Value>
				</Annotation>
				<Annotation>
					<Name>MSN.IM.BLP</Name>
					<Value>%d</Value>
				</Annotation></annotations>
			<contactType>Me</contactType>
			<quickName>%s</quickName>
			<passportName>%s</passportName>
			<IsPassportNameHidden>false</IsPassportNameHidden>
			<displayName>%s</displayName>
			<puid>0</puid>
			<CID>%d</CID>
			<IsNotMobileVisible>false</IsNotMobileVisible>
			<isMobileIMEnabled>false</isMobileIMEnabled>
			<isMessengerUser>false</isMessengerUser>
			<isFavorite>false</isFavorite>
			<isSmtp>false</isSmtp>
			<hasSpace>false</hasSpace>
			<spotWatchState>NoDevice</spotWatchState>
			<birthdate>0001-01-01T00:00:00</birthdate>
			<primaryEmailType>ContactEmailPersonal</primaryEmailType>
			<PrimaryLocation>ContactLocationPersonal</PrimaryLocation>
			<PrimaryPhone>ContactPhonePersonal</PrimaryPhone>
			<IsPrivate>false</IsPrivate>
			<Gender>Unspecified</Gender>
			<TimeZone>None</TimeZone>
		</contactInfo>
		<propertiesChanged />
		<fDeleted>false</fDeleted>
		<lastChange>%s</lastChange>
	</Contact>`, a.guid, boolInt(a.gtc == "A"), boolInt(a.blp == "AL"), xmlEsc(a.passport), xmlEsc(a.passport), xmlEsc(a.friendly), a.cid, time.Now().UTC().Format("2006-01-02T15:04:05Z"))
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func (s *Server) groupsXML(a *Account) string {
	var b strings.Builder
	for _, g := range a.groups {
		fmt.Fprintf(&b, `<Group>
						<groupId>%s</groupId>
						<groupInfo>
							<annotations><Annotation><Name>MSN.IM.Display</Name><Value>1</Value></Annotation></annotations>
							<groupType>c8529ce2-6ead-434d-881f-341e17db3ff8</groupType>
							<name>%s</name>
							<IsNotMobileVisible>false</IsNotMobileVisible>
							<IsPrivate>false</IsPrivate>
							<IsFavorite>false</IsFavorite>
						</groupInfo>
						<propertiesChanged />
						<fDeleted>false</fDeleted>
						<lastChange>%s</lastChange>
					</Group>`, g.ID, xmlEsc(g.Name), time.Now().UTC().Format("2006-01-02T15:04:05Z"))
	}
	return b.String()
}

func (s *Server) abInfoXML(a *Account, tag string) string {
	now := time.Now().UTC().Format("2006-01-02T15:04:05Z")
	return fmt.Sprintf(`<%s>
					<abId>00000000-0000-0000-0000-000000000000</abId>
					<abInfo>
						<ownerPuid>0</ownerPuid>
						<OwnerCID>%d</OwnerCID>
						<ownerEmail>%s</ownerEmail>
						<fDefault>true</fDefault>
						<joinedNamespace>false</joinedNamespace>
						<IsBot>false</IsBot>
						<IsParentManaged>false</IsParentManaged>
						<AccountTierLastChanged>0001-01-01T00:00:00</AccountTierLastChanged>
						<ProfileVersion>0</ProfileVersion>
						<SubscribeExternalPartner>false</SubscribeExternalPartner>
						<NotifyExternalPartner>false</NotifyExternalPartner>
						<AddressBookType>Individual</AddressBookType>
					</abInfo>
					<lastChange>%s</lastChange>
					<DynamicItemLastChanged>0001-01-01T00:00:00</DynamicItemLastChanged>
					<createDate>%s</createDate>
					<propertiesChanged />
				</%s>`, tag, a.cid, xmlEsc(a.passport), now, now, tag)
}

func (s *Server) abContacts(a *Account) string {
	var b strings.Builder
	for _, e := range a.sortedEntries() {
		if e.inAB || e.lists&FL != 0 {
			b.WriteString(s.contactXML(a, e))
		}
	}
	b.WriteString(s.meContactXML(a))
	return b.String()
}

func (s *Server) handleAB(w http.ResponseWriter, r *http.Request) {
	s.serveABService(w, r, s.abAction)
}

// abAction answers one ABService action for a (mu held).
func (s *Server) abAction(w http.ResponseWriter, r *http.Request, a *Account, act *xnode) {
	hdr := s.abHeader(r)
	switch act.name {
	case "ABFindAll", "ABFindContactsPaged":
		if strings.EqualFold(act.str("deltasOnly"), "true") || strings.EqualFold(act.str("DeltasOnly"), "true") {
			writeXML(w, http.StatusInternalServerError, abFaultXML(act.name, "FullSyncRequired", "Full sync required.  Details: Delta syncs disabled."))
			return
		}
		if act.name == "ABFindAll" {
			writeXML(w, http.StatusOK, hdr+"\t\t<ABFindAllResponse xmlns=\"http://www.msn.com/webservices/AddressBook\">\n\t\t\t<ABFindAllResult><groups>"+
				s.groupsXML(a)+"</groups><contacts>"+s.abContacts(a)+"</contacts>"+s.abInfoXML(a, "ab")+"\n\t\t\t</ABFindAllResult>\n\t\t</ABFindAllResponse>"+abFooter)
			return
		}
		writeXML(w, http.StatusOK, hdr+"\t\t<ABFindContactsPagedResponse xmlns=\"http://www.msn.com/webservices/AddressBook\">\n\t\t\t<ABFindContactsPagedResult><Groups>"+
			s.groupsXML(a)+"</Groups><Contacts>"+s.abContacts(a)+"</Contacts><CircleResult><CircleTicket>"+xmlEsc(circleTicket(a))+"</CircleTicket>\n\t\t\t\t\t</CircleResult>"+
			s.abInfoXML(a, "Ab")+"\n\t\t\t</ABFindContactsPagedResult>\n\t\t</ABFindContactsPagedResponse>"+abFooter)
	case "ABContactAdd":
		var ids []string
		for _, c := range act.findAll("Contact") {
			p := normPassport(c.str("passportName"))
			b := s.accounts[p]
			if b == nil {
				writeXML(w, http.StatusInternalServerError, abFaultXML(act.name, "InvalidPassportUser", "Invalid passport user"))
				return
			}
			e := a.entry(b.passport, true)
			if e.inAB {
				writeXML(w, http.StatusInternalServerError, abFaultXML(act.name, "ContactAlreadyExists", "Contact Already Exists"))
				return
			}
			e.inAB = true
			ids = append(ids, e.contactID)
		}
		res := ""
		if len(ids) > 0 {
			res = "<guid>" + ids[0] + "</guid>"
		}
		writeXML(w, http.StatusOK, hdr+"\t\t<ABContactAddResponse xmlns=\"http://www.msn.com/webservices/AddressBook\"><ABContactAddResult>"+res+"</ABContactAddResult></ABContactAddResponse>"+abFooter)
	case "ABContactDelete":
		for _, id := range act.findAll("contactId") {
			cid := strings.TrimSpace(id.text.String())
			var found *listEntry
			for _, e := range a.entries {
				if e.contactID == cid && (e.inAB || e.lists&FL != 0) {
					found = e
				}
			}
			if found == nil {
				writeXML(w, http.StatusInternalServerError, abFaultXML(act.name, "ContactDoesNotExist", "Contact Does Not Exist"))
				return
			}
			found.inAB = false
			if b := s.accounts[found.passport]; b != nil && found.lists&FL != 0 {
				s.removeFromList(a, b, FL)
			}
		}
		writeXML(w, http.StatusOK, hdr+"\t\t<ABContactDeleteResponse xmlns=\"http://www.msn.com/webservices/AddressBook\" />"+abFooter)
	case "ABGroupAdd":
		name := act.find("groupInfo").str("name")
		if name == "" {
			writeXML(w, http.StatusInternalServerError, abFaultXML(act.name, "InvalidGroupName", "Invalid group name"))
			return
		}
		for _, g := range a.groups {
			if g.Name == name {
				writeXML(w, http.StatusInternalServerError, abFaultXML(act.name, "GroupAlreadyExists", "Group Already Exists"))
				return
			}
		}
		g := Group{ID: newGUID(), Name: name}
		a.groups = append(a.groups, g)
		writeXML(w, http.StatusOK, hdr+"\t\t<ABGroupAddResponse xmlns=\"http://www.msn.com/webservices/AddressBook\"><ABGroupAddResult><guid>"+g.ID+"</guid></ABGroupAddResult></ABGroupAddResponse>"+abFooter)
	case "ABGroupDelete":
		for _, id := range act.find("groupFilter").findAll("guid") {
			gid := strings.TrimSpace(id.text.String())
			var keep []Group
			for _, g := range a.groups {
				if g.ID != gid {
					keep = append(keep, g)
				}
			}
			a.groups = keep
			for _, e := range a.entries {
				e.groups = removeStr(e.groups, gid)
			}
		}
		writeXML(w, http.StatusOK, hdr+"\t\t<ABGroupDeleteResponse xmlns=\"http://www.msn.com/webservices/AddressBook\" />"+abFooter)
	case "ABGroupContactAdd", "ABGroupContactDelete":
		var gids []string
		for _, id := range act.find("groupFilter").findAll("guid") {
			gids = append(gids, strings.TrimSpace(id.text.String()))
		}
		for _, c := range act.find("contacts").findAll("contactId") {
			cid := strings.TrimSpace(c.text.String())
			for _, e := range a.entries {
				if e.contactID != cid {
					continue
				}
				for _, gid := range gids {
					if !a.hasGroup(gid) {
						continue
					}
					if act.name == "ABGroupContactAdd" && !containsStr(e.groups, gid) {
						e.groups = append(e.groups, gid)
					}
					if act.name == "ABGroupContactDelete" {
						e.groups = removeStr(e.groups, gid)
					}
				}
			}
		}
		res := ""
		if act.name == "ABGroupContactAdd" {
			res = "<ABGroupContactAddResult><guid>" + strings.Join(gids, "") + "</guid></ABGroupContactAddResult>"
		}
		writeXML(w, http.StatusOK, hdr+"\t\t<"+act.name+"Response xmlns=\"http://www.msn.com/webservices/AddressBook\">"+res+"</"+act.name+"Response>"+abFooter)
	default:
		writeXML(w, http.StatusOK, hdr+"\t\t<"+act.name+"Response xmlns=\"http://www.msn.com/webservices/AddressBook\" />"+abFooter)
	}
}

func removeStr(xs []string, x string) []string {
	var out []string
	for _, v := range xs {
		if v != x {
			out = append(out, v)
		}
	}
	return out
}

func circleTicket(a *Account) string {
	inner := "<?xml version=\"1.0\" encoding=\"utf-16\"?>\r\n<Ticket xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\">\r\n  <TS>0000-01-01T00:00:00</TS>\r\n  <CID>" + strconv.FormatInt(a.cid, 10) + "</CID>\r\n</Ticket>"
	return `<?xml version="1.0" encoding="utf-16"?><SignedTicket xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema" ver="1" keyVer="1"><Data>` +
		base64.StdEncoding.EncodeToString([]byte(inner)) + `</Data><Sig>` + base64.StdEncoding.EncodeToString(randBytes(256)) + `</Sig></SignedTicket>`
}

func (s *Server) handleRSI(w http.ResponseWriter, r *http.Request) {
	doc, act, ok := soapRequest(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.accountByToken(ticket20(doc.find("PassportCookie").str("t")))
	if a == nil {
		writeXML(w, http.StatusInternalServerError, fmt.Sprintf(oimFault, "AuthenticationFailed", ""))
		return
	}
	const ns = `xmlns="http://www.hotmail.msn.com/ws/2004/09/oim/rsi"`
	switch act.name {
	case "GetMetadata":
		writeXML(w, http.StatusOK, fmt.Sprintf(rsiEnvelope, "<GetMetadataResponse "+ns+">"+s.mailData(a, false)+"</GetMetadataResponse>"))
	case "GetMessage":
		id := act.str("messageId")
		for _, m := range s.oims {
			if m.To == a.passport && strings.EqualFold(m.ID, id) {
				writeXML(w, http.StatusOK, fmt.Sprintf(rsiEnvelope, "<GetMessageResponse "+ns+">\n\t\t\t<GetMessageResult>"+xmlEsc(m.raw())+"</GetMessageResult>\n\t\t</GetMessageResponse>"))
				return
			}
		}
		writeXML(w, http.StatusInternalServerError, fmt.Sprintf(oimFault, "MessageNotFound", ""))
	case "DeleteMessages":
		del := map[string]bool{}
		for _, id := range act.findAll("messageId") {
			del[strings.ToUpper(strings.TrimSpace(id.text.String()))] = true
		}
		var keep []*OfflineMessage
		for _, m := range s.oims {
			if m.To == a.passport && del[strings.ToUpper(m.ID)] {
				continue
			}
			keep = append(keep, m)
		}
		s.oims = keep
		writeXML(w, http.StatusOK, fmt.Sprintf(rsiEnvelope, "<DeleteMessagesResponse "+ns+" />"))
	default:
		http.Error(w, "500 Internal Server Error", http.StatusInternalServerError)
	}
}

func (s *Server) handleOIM(w http.ResponseWriter, r *http.Request) {
	doc, act, ok := soapRequest(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ticket := doc.find("Ticket")
	from := doc.find("From")
	to := doc.find("To")
	if ticket == nil || from == nil || to == nil || (act.name != "MessageType" && act.name != "Store2" && act.name != "Store") {
		http.Error(w, "500 Internal Server Error", http.StatusInternalServerError)
		return
	}
	a := s.accountByToken(ticket20(ticket.attrs["passport"]))
	if a == nil || a.passport != normPassport(from.attrs["memberName"]) {
		writeXML(w, http.StatusInternalServerError, fmt.Sprintf(oimFault, "AuthenticationFailed", ""))
		return
	}
	if ticket.attrs["lockkey"] == "" {
		detail := "<TweenerChallenge xmlns=\"http://messenger.msn.com/ws/2004/09/oim/\">ct=1,rver=1,wp=FS_40SEC_0_COMPACT,lc=1,id=1</TweenerChallenge><LockKeyChallenge xmlns=\"http://messenger.msn.com/ws/2004/09/oim/\">" + randDigits(20) + "</LockKeyChallenge>"
		writeXML(w, http.StatusInternalServerError, fmt.Sprintf(oimFault, "AuthenticationFailed", detail))
		return
	}
	rcpt := s.accounts[normPassport(to.attrs["memberName"])]
	if rcpt == nil || !rcpt.allows(a.passport) {
		writeXML(w, http.StatusInternalServerError, fmt.Sprintf(oimFault, "SystemUnavailable", ""))
		return
	}
	content := doc.str("Content")
	text := content
	if _, body, ok := strings.Cut(strings.ReplaceAll(content, "\r\n", "\n"), "\n\n"); ok {
		dec, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(body), ""))
		if err != nil {
			writeXML(w, http.StatusInternalServerError, fmt.Sprintf(oimFault, "InvalidContent", ""))
			return
		}
		text = string(dec)
	}
	name := a.friendly
	if fn := from.attrs["friendlyName"]; strings.HasPrefix(fn, "=?utf-8?B?") && strings.HasSuffix(fn, "?=") {
		if dec, err := base64.StdEncoding.DecodeString(fn[10 : len(fn)-2]); err == nil {
			name = string(dec)
		}
	}
	s.storeOIM(a.passport, name, rcpt.passport, text, time.Now())
	writeXML(w, http.StatusOK, fmt.Sprintf(rsiEnvelope, "<StoreResponse xmlns=\"http://messenger.msn.com/ws/2004/09/oim/\"><PointsConsumed>0</PointsConsumed></StoreResponse>"))
}
