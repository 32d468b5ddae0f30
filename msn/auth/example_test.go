package auth_test

import (
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/msnbridge/msnbridge/msn/auth"
)

// The all-'A' vector (VECTORS.md §3.1): BinarySecret and nonce of 'A's, a zero IV.
func ExampleMBIBlobWithIV() {
	secret, _ := base64.StdEncoding.DecodeString("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")
	nonce := strings.Repeat("A", 63) + "="
	blob, err := auth.MBIBlobWithIV(secret, nonce, make([]byte, 8))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(blob)
	// Output:
	// HAAAAAEAAAADZgAABIAAAAgAAAAUAAAASAAAAAAAAAAAAAAA7XgT5ohvaZdoXdrWUUcMF2G8OK2JohyYcK5l5MJSitab33scxJeK/RQXcUr0L+R2ZA9CEAzn0izmUzSMp2LZdxSbHtnuxCmptgtoScHp9E26HjQVkA9YJxgK/HM=
}

// Answering "CHL 0 22210219642164014968" on an MSNP11 connection.
func ExampleChallengeResponse() {
	id, answer := auth.ChallengeResponse(11, "22210219642164014968")
	fmt.Printf("QRY 12 %s 32\n%s\n", id, answer) // the payload follows the line without CRLF
	// Output:
	// QRY 12 PROD0090YUAUV{2B 32
	// 85ecb0db8f32113df79ce0892b9a102c
}

// The MSNP2–7 login answer to "USR 5 MD5 S 1013928519.693957190".
func ExampleMD5Response() {
	fmt.Println(auth.MD5Response("1013928519.693957190", "mypassword"))
	// Output: 6f3963009fc8a9d2b2ff137da0905c55
}
