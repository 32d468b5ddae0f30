package msntest

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/msnbridge/msnbridge/msn/wire"
)

const emptyMsnObj = "%3Cmsnobj%2F%3E"

// visible reports whether the account appears online to its contacts.
func (a *Account) visible() bool {
	st := a.presence()
	return st != "FLN" && st != "HDN"
}

// capsFor formats capabilities for a receiver of version ver.
func capsFor(ver int, caps string) string {
	if caps == "" {
		caps = "1073741824"
	}
	if ver < 16 {
		c, _, _ := strings.Cut(caps, ":")
		return c
	}
	if !strings.Contains(caps, ":") {
		return caps + ":0"
	}
	return caps
}

func (a *Account) msnObjFor() string {
	if a.msnobj == "" {
		return emptyMsnObj
	}
	return a.msnobj
}

// presenceTail returns the fields after the status of NLN/ILN for a receiver of version ver.
func presenceTail(ver int, a *Account) []string {
	name := escName(a.friendly)
	switch {
	case ver <= 7:
		return []string{a.passport, name}
	case ver == 8:
		return []string{a.passport, name, capsFor(ver, a.caps)}
	case ver <= 13:
		return []string{a.passport, name, capsFor(ver, a.caps), a.msnObjFor()}
	case ver <= 17:
		return []string{a.passport, "1", name, capsFor(ver, a.caps), a.msnObjFor()}
	default:
		return []string{"1:" + a.passport, name, capsFor(ver, a.caps), a.msnObjFor()}
	}
}

// nlnCmd is the presence change notification of a for a receiver of version ver.
func nlnCmd(ver int, a *Account) *wire.Command {
	return wire.NewNoTrID("NLN", append([]string{a.presence()}, presenceTail(ver, a)...)...)
}

// initialPresence is ILN (≤17, with the TrID of the triggering command) or NLN (18).
func initialPresence(ver int, trid uint32, a *Account) *wire.Command {
	if ver >= 18 {
		return nlnCmd(ver, a)
	}
	return wire.New("ILN", trid, append([]string{a.presence()}, presenceTail(ver, a)...)...)
}

// flnCmd is the offline notification of a for a receiver of version ver.
func flnCmd(ver int, a *Account) *wire.Command {
	switch {
	case ver <= 13:
		return wire.NewNoTrID("FLN", a.passport)
	case ver <= 15:
		return wire.NewNoTrID("FLN", a.passport, "1", "0")
	case ver <= 17:
		return wire.NewNoTrID("FLN", a.passport, "1", "0:0")
	default:
		return wire.NewNoTrID("FLN", "1:"+a.passport, "0:0")
	}
}

// ubxCmd builds the UBX of a for a receiver of version ver; self adds the private endpoint
// data MSNP16+ shows to the account's own endpoints.
func ubxCmd(ver int, a *Account, self bool) *wire.Command {
	payload := []byte(ubxPayload(ver, a, self))
	switch {
	case ver <= 13:
		return wire.NewPayloadNoTrID("UBX", payload, a.passport)
	case ver <= 17:
		return wire.NewPayloadNoTrID("UBX", payload, a.passport, "1")
	default:
		return wire.NewPayloadNoTrID("UBX", payload, "1:"+a.passport)
	}
}

func ubxPayload(ver int, a *Account, self bool) string {
	if ver < 16 {
		if a.dataXML != "" {
			return a.dataXML
		}
		return "<Data><PSM>" + xmlEsc(a.psm) + "</PSM><CurrentMedia>" + xmlEsc(a.media) + "</CurrentMedia></Data>"
	}
	var b strings.Builder
	b.WriteString("<Data><PSM>" + xmlEsc(a.psm) + "</PSM><CurrentMedia>" + xmlEsc(a.media) + "</CurrentMedia>")
	b.WriteString("<MachineGuid>" + xmlEsc(a.machineGUIDRaw()) + "</MachineGuid>")
	if ver >= 18 {
		b.WriteString("<DDP></DDP>")
	}
	b.WriteString("<SignatureSound></SignatureSound>")
	if ver >= 18 {
		b.WriteString("<Scene></Scene><ColorScheme></ColorScheme>")
	}
	eps := a.sortedEndpoints()
	for _, ep := range eps {
		fmt.Fprintf(&b, `<EndpointData id="{%s}"><Capabilities>%s</Capabilities></EndpointData>`, ep.guid, xmlEsc(capsFor(16, ep.caps)))
	}
	if self {
		for _, ep := range eps {
			st := ep.state
			if st == "" {
				st = a.presence()
			}
			ct := ep.clientType
			if ct == "" {
				ct = "1"
			}
			fmt.Fprintf(&b, `<PrivateEndpointData id="{%s}"><EpName>%s</EpName><ClientType>%s</ClientType><State>%s</State></PrivateEndpointData>`,
				ep.guid, xmlEsc(ep.epName), xmlEsc(ct), xmlEsc(st))
		}
	}
	b.WriteString("</Data>")
	return b.String()
}

func (a *Account) machineGUIDRaw() string {
	if a.dataXML == "" {
		return ""
	}
	var d uuxData
	if err := decodeXML(a.dataXML, &d); err != nil {
		return ""
	}
	return d.MachineGUID
}

func (a *Account) sortedEndpoints() []*endpoint {
	out := make([]*endpoint, 0, len(a.endpoint))
	for _, k := range sortedKeys(a.endpoint) {
		out = append(out, a.endpoint[k])
	}
	return out
}

// ---- pushes (mu held) ------------------------------------------------------------------

// watchers returns the NS sessions that watch a: logged in, past their first CHG, a on FL,
// and allowed by a.
func (s *Server) watchers(a *Account) []*nsConn {
	var out []*nsConn
	for _, c := range s.sortedNS() {
		if c.acct == nil || c.acct == a || !c.chgDone {
			continue
		}
		if c.acct.lists(a.passport)&FL == 0 || !a.allows(c.acct.passport) {
			continue
		}
		out = append(out, c)
	}
	return out
}

// pushPresence tells a's watchers about a status change; wasVisible is the state before.
func (s *Server) pushPresence(a *Account, wasVisible bool) {
	for _, w := range s.watchers(a) {
		switch {
		case a.visible():
			w.send(nlnCmd(w.ver, a))
			if !wasVisible && w.ver >= 16 {
				w.send(ubxCmd(w.ver, a, false))
			}
		case wasVisible:
			w.send(flnCmd(w.ver, a))
		}
	}
	s.selfSync(a)
}

// pushUBX tells a's watchers (MSNP11+) about a personal message change.
func (s *Server) pushUBX(a *Account) {
	if !a.visible() {
		return
	}
	for _, w := range s.watchers(a) {
		if w.ver >= 11 {
			w.send(ubxCmd(w.ver, a, false))
		}
	}
	s.selfSync(a)
}

// selfSync sends MSNP16+ endpoints of a their own NLN and UBX (MPOP).
func (s *Server) selfSync(a *Account) {
	for _, c := range s.sortedNS() {
		if c.acct != a || !c.chgDone || c.ver < 16 {
			continue
		}
		c.send(nlnCmd(c.ver, a))
		c.send(ubxCmd(c.ver, a, true))
	}
}

// sessionsOf returns the logged-in NS sessions of a.
func (s *Server) sessionsOf(a *Account) []*nsConn {
	var out []*nsConn
	for _, c := range s.sortedNS() {
		if c.acct == a {
			out = append(out, c)
		}
	}
	return out
}

// notifyAddedBy tells the sessions of owner that by put owner on its forward list.
func (s *Server) notifyAddedBy(owner, by *Account) {
	for _, c := range s.sessionsOf(owner) {
		switch {
		case c.ver <= 9:
			c.send(wire.New("ADD", 0, "RL", "1", by.passport, escName(by.friendly)))
		case c.ver <= 12:
			c.send(wire.New("ADC", 0, "RL", "N="+by.passport, "F="+escName(by.friendly)))
		default:
			user, dom, _ := strings.Cut(by.passport, "@")
			ml := fmt.Sprintf(`<ml><d n="%s"><c n="%s" t="1" l="8" f="%s" /></d></ml>`, xmlEsc(dom), xmlEsc(user), quoteAll(by.friendly))
			c.send(wire.NewPayload("ADL", 0, []byte(ml)))
		}
		if c.ver >= 11 {
			c.send(wire.NewPayloadNoTrID("NOT", []byte(abchNotification(owner))))
		}
	}
}

// notifyRemovedBy tells the sessions of owner that by removed owner from its forward list.
func (s *Server) notifyRemovedBy(owner, by *Account) {
	for _, c := range s.sessionsOf(owner) {
		switch {
		case c.ver <= 9:
			c.send(wire.New("REM", 0, "RL", "1", by.passport))
		case c.ver <= 12:
			c.send(wire.New("REM", 0, "RL", by.passport))
		default:
			user, dom, _ := strings.Cut(by.passport, "@")
			ml := fmt.Sprintf(`<ml><d n="%s"><c n="%s" t="1" l="8" /></d></ml>`, xmlEsc(dom), xmlEsc(user))
			c.send(wire.NewPayload("RML", 0, []byte(ml)))
		}
	}
}

func abchNotification(a *Account) string {
	hx := strings.ReplaceAll(a.guid, "-", "")
	return "<NOTIFICATION id=\"0\" siteid=\"45705\" siteurl=\"http://contacts.msn.com\">\r\n" +
		"\t<TO pid=\"0x" + hx[24:32] + ":0x" + hx[16:24] + "\" name=\"" + xmlEsc(a.passport) + "\">\r\n" +
		"\t\t<VIA agent=\"messenger\" />\r\n" +
		"\t</TO>\r\n" +
		"\t<MSG id=\"0\">\r\n" +
		"\t\t<SUBSCR url=\"s.htm\" />\r\n" +
		"\t\t<ACTION url=\"a.htm\" />\r\n" +
		"\t\t<BODY>\r\n" +
		"\t\t\t&lt;NotificationData xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\"&gt;\r\n" +
		"\t\t\t\t&lt;Service&gt;ABCHInternal&lt;/Service&gt;\r\n" +
		"\t\t\t\t&lt;CID&gt;" + strconv.FormatInt(a.cid, 10) + "&lt;/CID&gt;\r\n" +
		"\t\t\t\t&lt;LastModifiedDate&gt;" + time.Now().UTC().Format("2006-01-02T15:04:05Z") + "&lt;/LastModifiedDate&gt;\r\n" +
		"\t\t\t\t&lt;HasNewItem&gt;false&lt;/HasNewItem&gt;\r\n" +
		"\t\t\t&lt;/NotificationData&gt;\r\n" +
		"\t\t</BODY>\r\n" +
		"\t</MSG>\r\n" +
		"</NOTIFICATION>"
}

// ---- mail data (OIM notifications) -----------------------------------------------------

// maxInlineOIMs is the number of offline messages the initial mail-data notification lists;
// beyond it the notification says "too-large" and the client calls RSI GetMetadata.
const maxInlineOIMs = 25

// mailData renders a's Mail-Data. For the NS notification (inline) more than maxInlineOIMs
// messages become "too-large"; RSI GetMetadata (inline false) always gets the full <MD> list.
func (s *Server) mailData(a *Account, inline bool) string {
	var ms []*OfflineMessage
	for _, m := range s.oims {
		if m.To == a.passport {
			ms = append(ms, m)
		}
	}
	if inline && len(ms) > maxInlineOIMs {
		return "too-large"
	}
	var b strings.Builder
	b.WriteString("<MD><E><I>0</I><IU>0</IU><O>0</O><OU>0</OU></E><Q><QTM>409600</QTM><QNM>204800</QNM></Q>")
	for _, m := range ms {
		b.WriteString(oimMeta(m, true))
	}
	b.WriteString("</MD>")
	return b.String()
}

func oimMeta(m *OfflineMessage, withRT bool) string {
	var b strings.Builder
	b.WriteString("<M><T>11</T><S>6</S>")
	if withRT {
		b.WriteString("<RT>" + m.Time.UTC().Format("2006-01-02T15:04:05Z") + "</RT>")
	}
	fmt.Fprintf(&b, "<RS>0</RS><SZ>%d</SZ><E>%s</E><I>%s</I><F>00000000-0000-0000-0000-000000000009</F><N>=?utf-8?B?%s?=</N></M>",
		len(m.raw()), xmlEsc(m.From), m.ID, base64.StdEncoding.EncodeToString([]byte(m.FromName)))
	return b.String()
}

func mailDataMsg(contentType, md string) []byte {
	return []byte("MIME-Version: 1.0\r\nContent-Type: " + contentType + "; charset=UTF-8\r\n\r\nMail-Data: " + md + "\r\n")
}
