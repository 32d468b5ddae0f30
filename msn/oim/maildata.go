package oim

import (
	"encoding/xml"
	"errors"
	"fmt"
	"mime"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/msnbridge/msnbridge/msn/message"
)

// Bounds of the parsers.
const (
	// MaxMailDataBytes is the largest Mail-Data XML accepted (Escargot switches to "too-large"
	// above 25 messages, a few KiB).
	MaxMailDataBytes = 512 << 10
	// MaxMailMessages is the largest number of <M> entries accepted in one Mail-Data.
	MaxMailMessages = 1000
	// MaxResponseBytes bounds every SOAP response body.
	MaxResponseBytes = 1 << 20
)

// Errors of this package; test with errors.Is.
var (
	// ErrMalformed means a payload, XML document or fetched message could not be parsed.
	ErrMalformed = errors.New("oim: malformed data")
	// ErrTooLarge means an input went over a bound.
	ErrTooLarge = errors.New("oim: data exceeds a limit")
)

// TypeOIM is the <T> value of an offline message in Mail-Data.
const TypeOIM = 11

// MailData is the parsed <MD> document.
type MailData struct {
	// Inbox and other-folder counters from <E> (zero when absent).
	InboxTotal, InboxUnread, OtherTotal, OtherUnread int
	// Quota values from <Q> (QTM, QNM), zero when absent.
	QuotaTotal, QuotaNotify int64
	// Messages are the <M> entries in document order.
	Messages []MailMessage
}

// MailMessage is one <M> entry: an offline message waiting on the server.
type MailMessage struct {
	Type     int       // T: 11 = OIM
	S        int       // S (6 in Escargot's notifications)
	Received time.Time // RT; zero on "just sent" notifications
	Read     bool      // RS != 0
	Size     int       // SZ
	From     string    // E: sender passport
	ID       string    // I: message id, used with GetMessage/DeleteMessages
	Folder   string    // F
	FromName string    // N, RFC 2047 decoded
	Subject  string    // SU, decoded, usually blank
}

type xmlMD struct {
	E *struct {
		I  string `xml:"I"`
		IU string `xml:"IU"`
		O  string `xml:"O"`
		OU string `xml:"OU"`
	} `xml:"E"`
	Q *struct {
		QTM string `xml:"QTM"`
		QNM string `xml:"QNM"`
	} `xml:"Q"`
	M []xmlM `xml:"M"`
}

type xmlM struct {
	T  string `xml:"T"`
	S  string `xml:"S"`
	RT string `xml:"RT"`
	RS string `xml:"RS"`
	SZ string `xml:"SZ"`
	E  string `xml:"E"`
	I  string `xml:"I"`
	F  string `xml:"F"`
	N  string `xml:"N"`
	SU string `xml:"SU"`
}

// ParseMailData parses a Mail-Data <MD> document. Numbers that do not parse are zero; an
// entry without a message id is skipped.
func ParseMailData(data []byte) (*MailData, error) {
	if len(data) > MaxMailDataBytes {
		return nil, fmt.Errorf("%w: mail data of %d bytes (max %d)", ErrTooLarge, len(data), MaxMailDataBytes)
	}
	var md struct {
		XMLName xml.Name
		xmlMD
	}
	if err := xml.Unmarshal(data, &md); err != nil {
		return nil, fmt.Errorf("%w: mail data XML: %v", ErrMalformed, err)
	}
	if md.XMLName.Local != "MD" {
		return nil, fmt.Errorf("%w: mail data root is <%s>, want <MD>", ErrMalformed, truncate(md.XMLName.Local, 20))
	}
	return convertMD(&md.xmlMD)
}

func convertMD(x *xmlMD) (*MailData, error) {
	if len(x.M) > MaxMailMessages {
		return nil, fmt.Errorf("%w: %d messages in mail data (max %d)", ErrTooLarge, len(x.M), MaxMailMessages)
	}
	md := &MailData{}
	if x.E != nil {
		md.InboxTotal, md.InboxUnread = atoi(x.E.I), atoi(x.E.IU)
		md.OtherTotal, md.OtherUnread = atoi(x.E.O), atoi(x.E.OU)
	}
	if x.Q != nil {
		md.QuotaTotal, _ = strconv.ParseInt(strings.TrimSpace(x.Q.QTM), 10, 64)
		md.QuotaNotify, _ = strconv.ParseInt(strings.TrimSpace(x.Q.QNM), 10, 64)
	}
	for _, m := range x.M {
		id := strings.TrimSpace(m.I)
		if id == "" {
			continue
		}
		mm := MailMessage{
			Type: atoi(m.T), S: atoi(m.S), Read: atoi(m.RS) != 0, Size: atoi(m.SZ),
			From: strings.TrimSpace(m.E), ID: id, Folder: strings.TrimSpace(m.F),
			FromName: decodeWords(strings.TrimSpace(m.N)), Subject: decodeWords(strings.TrimSpace(m.SU)),
		}
		if rt := strings.TrimSpace(m.RT); rt != "" {
			if t, err := time.Parse(time.RFC3339, rt); err == nil {
				mm.Received = t
			}
		}
		md.Messages = append(md.Messages, mm)
	}
	return md, nil
}

// ParseMailDataPayload reads the Mail-Data field of a text/x-msmsgsinitialmdatanotification or
// text/x-msmsgsoimnotification MSG payload. tooLarge reports "Mail-Data: too-large": the list
// must then be fetched with [RSIClient.GetMetadata] (md is nil).
func ParseMailDataPayload(payload []byte) (md *MailData, tooLarge bool, err error) {
	m, err := message.Parse(payload)
	if err != nil {
		return nil, false, fmt.Errorf("%w: mail data payload: %v", ErrMalformed, err)
	}
	if m.Kind != message.KindMailData {
		return nil, false, fmt.Errorf("%w: payload of type %q has no Mail-Data", ErrMalformed, truncate(m.ContentType, 60))
	}
	if m.MailData.TooLarge {
		return nil, true, nil
	}
	md, err = ParseMailData([]byte(m.MailData.Data))
	return md, false, err
}

// OIMs returns the entries that are offline messages (T = 11; entries without T count too).
func (md *MailData) OIMs() []MailMessage {
	var out []MailMessage
	for _, m := range md.Messages {
		if m.Type == TypeOIM || m.Type == 0 {
			out = append(out, m)
		}
	}
	return out
}

func atoi(s string) int {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		return 0
	}
	return n
}

var wordDecoder = &mime.WordDecoder{CharsetReader: charsetReader}

// decodeWords decodes RFC 2047 encoded-words ("=?utf-8?B?…?="); text that does not decode is
// returned as it is. The result is valid UTF-8.
func decodeWords(s string) string {
	if strings.Contains(s, "=?") {
		if d, err := wordDecoder.DecodeHeader(s); err == nil {
			s = d
		}
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
