package oauth

import (
	"strings"
	"testing"
)

// TestValidateRedirectURI: what a client may register as a redirect URI
// (RFC 6749 §3.1.2; RFC 8252 §7.1, §7.3, §8.3; RFC 9700 §2.1). A
// javascript: or data: URI would run the authorization response as a script
// in the browser; the others reach no client, or a local resource.
func TestValidateRedirectURI(t *testing.T) {
	for _, uri := range []string{
		"https://client.example/cb",
		"https://client.example:8443/cb?tenant=1",
		"http://127.0.0.1/cb",
		"http://127.0.0.1:9000/callback",
		"http://[::1]:8080/cb",
		"http://localhost:3000/cb",
		"com.example.app:/oauth2redirect/example-provider", // RFC 8252 §7.1
		"com.example.app://cb",
		"io.github.someone.tool:/done",
		"https://client.example/" + strings.Repeat("a", MaxRedirectURIBytes-len("https://client.example/")),
	} {
		if err := ValidateRedirectURI(uri); err != nil {
			t.Errorf("%.60s: %v, want it accepted", uri, err)
		}
	}
	for _, uri := range []string{
		"javascript:alert(document.domain)",
		"JavaScript:alert(1)",
		"javascript://client.example/%0aalert(1)",
		"data:text/html,<script>alert(1)</script>",
		"data://x/image/png;base64,AAAA",
		"vbscript:msgbox(1)",
		"file:///etc/passwd",
		"blob:https://client.example/0f9e4c",
		"about:blank",
		"myapp:/cb",             // private-use, but not a reverse domain name
		"myapp://cb",            // idem
		"ftp://client.example/", // no other network scheme
		"wss://client.example/cb",
		"http://client.example/cb",      // plain http off loopback
		"http://127.0.0.1.nip.io/cb",    // not loopback
		"https:///cb",                   // no host
		"https:/cb",                     // no host
		"/cb",                           // relative
		"client.example/cb",             // relative
		"https://client.example/cb#x",   // a fragment (RFC 6749 §3.1.2)
		"https://client.example/cb#",    // an empty one too
		"com.example.app:/cb#frag",      // idem
		"https://client.example/\x00cb", // not a URI
		"https://client.example/" + strings.Repeat("a", MaxRedirectURIBytes), // too long
	} {
		if err := ValidateRedirectURI(uri); err == nil {
			t.Errorf("%.60q accepted, want it refused", uri)
		}
	}
}
