package httpapi_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/shared/oauth"
)

const formType = "application/x-www-form-urlencoded"

var postEndpoints = []string{oauth.PathToken, oauth.PathIntrospect, oauth.PathRevoke}

// TestPostOnly: the token, introspection and revocation endpoints take
// POST only (RFC 6749 §3.2, RFC 7009 §2.1, RFC 7662 §2.1).
func TestPostOnly(t *testing.T) {
	base := newTestServer(t)
	for _, path := range postEndpoints {
		for _, method := range []string{http.MethodGet, http.MethodPut, http.MethodDelete, http.MethodPatch, http.MethodOptions, http.MethodHead} {
			t.Run(method+" "+path, func(t *testing.T) {
				target := path
				if method == http.MethodGet {
					// The parameters in the query, as a careless client would.
					target += "?grant_type=client_credentials&token=x"
				}
				r := base.withT(t).send(method, target, formType, "grant_type=client_credentials&token=x", basic(serviceID, serviceSecret))
				if r.Status != http.StatusMethodNotAllowed {
					t.Fatalf("status %d, want 405: %s", r.Status, r.Body)
				}
				if got := r.Header.Get("Allow"); got != "POST" {
					t.Errorf("Allow %q, want POST", got)
				}
				if method == http.MethodHead {
					return
				}
				wantNoStore(t, r)
				if m := r.JSON(t); str(m, "error") == "" || strings.Contains(r.Body, "access_token") {
					t.Errorf("405 body: %s", r.Body)
				}
			})
		}
	}
}

// TestContentType: the bodies are application/x-www-form-urlencoded
// (RFC 6749 §3.2); anything else is invalid_request.
func TestContentType(t *testing.T) {
	base := newTestServer(t)
	tests := []struct {
		name, contentType, body string
		ok                      bool
	}{
		{"form", formType, "grant_type=client_credentials&token=x", true},
		{"form with charset", formType + "; charset=UTF-8", "grant_type=client_credentials&token=x", true},
		{"form, upper case", "Application/X-WWW-Form-URLEncoded", "grant_type=client_credentials&token=x", true},
		{"JSON", "application/json", `{"grant_type":"client_credentials","token":"x"}`, false},
		{"JSON with a form body", "application/json", "grant_type=client_credentials&token=x", false},
		{"missing", "", "grant_type=client_credentials&token=x", false},
		{"text", "text/plain", "grant_type=client_credentials&token=x", false},
		{"multipart", "multipart/form-data; boundary=x", "--x\r\nContent-Disposition: form-data; name=\"grant_type\"\r\n\r\nclient_credentials\r\n--x--\r\n", false},
		{"malformed", "application/x-www-form-urlencoded; ;;", "grant_type=client_credentials&token=x", false},
	}
	for _, path := range postEndpoints {
		for _, tc := range tests {
			t.Run(path+"/"+tc.name, func(t *testing.T) {
				r := base.withT(t).send(http.MethodPost, path, tc.contentType, tc.body, basic(serviceID, serviceSecret))
				if tc.ok {
					if r.Status != http.StatusOK {
						t.Fatalf("status %d, want 200: %s", r.Status, r.Body)
					}
					return
				}
				wantError(t, r, http.StatusBadRequest, "invalid_request")
				wantNoStore(t, r)
			})
		}
	}
}

// TestRepeatedParameters: a parameter sent twice is invalid_request (RFC
// 6749 §3.1, §3.2), even when both values agree.
func TestRepeatedParameters(t *testing.T) {
	base := newTestServer(t)
	svc := basic(serviceID, serviceSecret)
	tests := []struct {
		name, path, body, auth string
	}{
		{"grant_type twice", oauth.PathToken, "grant_type=client_credentials&grant_type=client_credentials", svc},
		{"grant_type, different values", oauth.PathToken, "grant_type=client_credentials&grant_type=password", svc},
		{"scope twice", oauth.PathToken, "grant_type=client_credentials&scope=read&scope=read", svc},
		{"scope twice, different values", oauth.PathToken, "grant_type=client_credentials&scope=read&scope=admin", svc},
		{"scope twice, one empty", oauth.PathToken, "grant_type=client_credentials&scope=read&scope=", svc},
		{"client_id twice", oauth.PathToken, formOf("grant_type", "client_credentials", "client_id", postID, "client_id", postID, "client_secret", postSecret), ""},
		{"client_secret twice", oauth.PathToken, formOf("grant_type", "client_credentials", "client_id", postID, "client_secret", postSecret, "client_secret", postSecret), ""},
		{"code twice", oauth.PathToken, "grant_type=authorization_code&code=a&code=b", basic(webID, webSecret)},
		{"refresh_token twice", oauth.PathToken, "grant_type=refresh_token&refresh_token=a&refresh_token=a", basic(webID, webSecret)},
		{"percent-encoded name repeats", oauth.PathToken, "grant_type=client_credentials&grant%5Ftype=client_credentials", svc},
		{"token twice (introspect)", oauth.PathIntrospect, "token=a&token=b", svc},
		{"hint twice (introspect)", oauth.PathIntrospect, "token=a&token_type_hint=access_token&token_type_hint=access_token", svc},
		{"token twice (revoke)", oauth.PathRevoke, "token=a&token=a", svc},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := base.withT(t).post(tc.path, tc.body, tc.auth)
			wantError(t, r, http.StatusBadRequest, "invalid_request")
			wantNoStore(t, r)
		})
	}
}

// TestEmptyValues: a parameter without a value counts as omitted (RFC 6749
// §3.1), and unknown parameters are ignored.
func TestEmptyValues(t *testing.T) {
	base := newTestServer(t)
	svc := basic(serviceID, serviceSecret)
	t.Run("scope= is omitted", func(t *testing.T) {
		ts := base.withT(t)
		for _, body := range []string{"grant_type=client_credentials&scope=", "grant_type=client_credentials&scope", "scope=&grant_type=client_credentials"} {
			m := mustOK(t, body, ts.post(oauth.PathToken, body, svc))
			if !sameScope(str(m, "scope"), "read write admin") {
				t.Errorf("%s: scope %q, want the registered read write admin", body, m["scope"])
			}
		}
	})
	tests := []struct {
		name, body, auth string
		status           int
		err              string
	}{
		{"grant_type= is missing", "grant_type=&scope=read", svc, 400, "invalid_request"},
		{"grant_type without = is missing", "grant_type&scope=read", svc, 400, "invalid_request"},
		{"code= is missing", "grant_type=authorization_code&code=&redirect_uri=x", basic(webID, webSecret), 400, "invalid_request"},
		{"refresh_token= is missing", "grant_type=refresh_token&refresh_token=", basic(webID, webSecret), 400, "invalid_request"},
		{"username= is missing", "grant_type=password&username=&password=x", basic(passwordID, passwordSec), 400, "invalid_request"},
		{"client_secret= is absent: no post authentication", formOf("grant_type", "client_credentials", "client_id", postID, "client_secret", ""), "", 401, "invalid_client"},
		{"client_id= is absent", "grant_type=client_credentials&client_id=", "", 401, "invalid_client"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := base.withT(t).post(oauth.PathToken, tc.body, tc.auth)
			wantError(t, r, tc.status, tc.err)
			wantNoStore(t, r)
		})
	}
	t.Run("unknown parameters are ignored", func(t *testing.T) {
		mustOK(t, "token", base.withT(t).post(oauth.PathToken, "grant_type=client_credentials&foo=bar&resource_x=1", svc))
	})
}

// TestBodyLimit: bodies are capped at 64 KiB.
func TestBodyLimit(t *testing.T) {
	base := newTestServer(t)
	const limit = 64 << 10
	pad := func(prefix string, size int) string {
		return prefix + "&pad=" + strings.Repeat("p", size-len(prefix)-len("&pad="))
	}
	tests := []struct {
		name string
		path string
		body string
		ok   bool
	}{
		{"token at the limit", oauth.PathToken, pad("grant_type=client_credentials", limit), true},
		{"token one byte over", oauth.PathToken, pad("grant_type=client_credentials", limit+1), false},
		{"token far over", oauth.PathToken, pad("grant_type=client_credentials", 200<<10), false},
		{"introspect at the limit", oauth.PathIntrospect, pad("token=x", limit), true},
		{"introspect over", oauth.PathIntrospect, pad("token=x", limit+1), false},
		{"revoke at the limit", oauth.PathRevoke, pad("token=x", limit), true},
		{"revoke over", oauth.PathRevoke, pad("token=x", limit+1), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := base.withT(t).post(tc.path, tc.body, basic(serviceID, serviceSecret))
			if tc.ok {
				if r.Status != http.StatusOK {
					t.Fatalf("status %d, want 200: %s", r.Status, r.Body)
				}
				return
			}
			wantError(t, r, http.StatusBadRequest, "invalid_request")
			wantNoStore(t, r)
		})
	}
}

// TestQueryParameters: parameters in the URL of a POST are refused, since
// URLs end up in logs (RFC 6749 §3.2, RFC 9700 §4.3.2).
func TestQueryParameters(t *testing.T) {
	base := newTestServer(t)
	tok := str(base.ccToken("read"), "access_token")
	tests := []struct {
		name, path, query, body, auth string
	}{
		{"grant_type in the query", oauth.PathToken, "grant_type=client_credentials", "scope=read", basic(serviceID, serviceSecret)},
		{"everything in the query", oauth.PathToken, "grant_type=client_credentials", "", basic(serviceID, serviceSecret)},
		{"duplicate of the body", oauth.PathToken, "grant_type=client_credentials", "grant_type=client_credentials", basic(serviceID, serviceSecret)},
		{"client_secret in the query", oauth.PathToken, formOf("client_id", postID, "client_secret", postSecret), "grant_type=client_credentials", ""},
		{"unrelated parameter in the query", oauth.PathToken, "foo=bar", "grant_type=client_credentials", basic(serviceID, serviceSecret)},
		{"token in the query (introspect)", oauth.PathIntrospect, "token=" + tok, "", basic(serviceID, serviceSecret)},
		{"token in the query (revoke)", oauth.PathRevoke, "token=" + tok, "", basic(serviceID, serviceSecret)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ts := base.withT(t)
			r := ts.send(http.MethodPost, tc.path+"?"+tc.query, formType, tc.body, tc.auth)
			wantError(t, r, http.StatusBadRequest, "invalid_request")
			wantNoStore(t, r)
			if strings.Contains(r.Body, "access_token") || strings.Contains(r.Body, postSecret) {
				t.Fatalf("refused request leaked: %s", r.Body)
			}
		})
	}
	if !base.active(tok) {
		t.Fatal("a refused revocation (token in the URL) revoked the token")
	}
}

// garbageBodies are malformed or hostile token endpoint bodies. None may
// cause a server error.
var garbageBodies = []string{
	"",
	"=",
	"&&&",
	"==&==",
	"%",
	"%zz",
	"grant_type=%zz",
	"grant_type=client_credentials%",
	"grant_type=%E0%A4%A",
	"grant_type=client_credentials%00",
	"grant_type=client_credentials\x00",
	"\x00\x00\x00",
	"grant_type=client_credentials;scope=read",
	"grant_type=client_credentials&scope=%00",
	"grant_type=client_credentials&scope=%FF%FE",
	"grant_type=client_credentials&scope=" + url.QueryEscape(strings.Repeat("read ", 2000)),
	"grant_type=client_credentials&scope=" + url.QueryEscape("🔑 ✓ read"),
	"gr%C3%A4nt_type=client_credentials",
	"grant_type=" + url.QueryEscape("clïent_crédentials"),
	"grant_type=" + url.QueryEscape("client_credentials\r\nX-Injected: 1"),
	"grant_type=authorization_code&code=" + strings.Repeat("c", 10<<10),
	"grant_type=authorization_code&code=%FF%FE%00&redirect_uri=%00&code_verifier=%FF",
	"grant_type=authorization_code&code=x&redirect_uri=" + url.QueryEscape("javascript:alert(1)"),
	"grant_type=authorization_code&code=" + url.QueryEscape("🔑"),
	"grant_type=refresh_token&refresh_token=" + strings.Repeat("r", 10<<10),
	"grant_type=refresh_token&refresh_token=.",
	"grant_type=refresh_token&refresh_token=" + strings.Repeat(".", 87),
	"grant_type=refresh_token&refresh_token=" + strings.Repeat("a", 43) + "." + strings.Repeat("\x00", 43),
	"grant_type=refresh_token&refresh_token=a.b.c&scope=%22",
	"grant_type=password&username=" + strings.Repeat("u", 10<<10) + "&password=x",
	"grant_type=password&username=%00&password=%00",
	"grant_type=password&username=" + url.QueryEscape("ålice") + "&password=" + url.QueryEscape("🔑"),
	strings.Repeat("a", 10<<10) + "=b",
	strings.Repeat("a=b&", 2000),
	"client_id=%00&grant_type=client_credentials",
	"client_id=" + url.QueryEscape("spa\x00") + "&grant_type=client_credentials",
	"client_id=web-app&client_secret=" + strings.Repeat("%41", 3000) + "&grant_type=client_credentials",
}

var garbageAuth = []string{
	"",
	basic(serviceID, serviceSecret),
	basic(webID, webSecret),
	basic(passwordID, passwordSec),
	"Basic",
	"Basic =",
	"Basic " + strings.Repeat("A", 5000),
	"Basic " + std64("\x00:\x00"),
	"Basic " + std64("%zz:%zz"),
	"Basic " + std64("🔑:🔑"),
	"Bearer x",
}

// TestGarbageNeverServerError: no garbage input yields a 5xx, and every
// answer is a JSON object.
func TestGarbageNeverServerError(t *testing.T) {
	ts := newTestServer(t)
	for _, path := range postEndpoints {
		for _, auth := range garbageAuth {
			for _, body := range garbageBodies {
				bodies := []string{body}
				if path != oauth.PathToken {
					bodies = append(bodies, "token="+url.QueryEscape(body), body+"&token=%00")
				}
				for _, b := range bodies {
					r := ts.post(path, b, auth)
					if r.Status >= 500 {
						t.Errorf("%s with auth %.30q body %.60q: status %d: %s", path, auth, b, r.Status, r.Body)
						continue
					}
					if path == oauth.PathRevoke && r.Status == http.StatusOK {
						continue // empty body by design
					}
					var m map[string]any
					if err := json.Unmarshal([]byte(r.Body), &m); err != nil {
						t.Errorf("%s body %.60q: not a JSON object: %q", path, b, r.Body)
					}
					wantDescriptionCharset(t, r)
				}
			}
		}
	}
}

// FuzzTokenEndpoint feeds arbitrary bodies and Authorization headers to the
// token endpoint, in process. Under plain `go test` it runs its seeds; run
// `go test -fuzz FuzzTokenEndpoint ./shared/httpapi` to explore.
func FuzzTokenEndpoint(f *testing.F) {
	p := newInProcess(f)
	// The huge garbage inputs stay in TestGarbageNeverServerError: as fuzz
	// seeds they only slow down minimization.
	const maxSeed = 1 << 10
	for _, b := range garbageBodies {
		if len(b) <= maxSeed {
			f.Add(b, basic(serviceID, serviceSecret))
		}
	}
	for _, a := range garbageAuth {
		if len(a) <= maxSeed {
			f.Add("grant_type=client_credentials", a)
		}
	}
	f.Add("grant_type=client_credentials&scope=read", "")
	f.Add(formOf("grant_type", "client_credentials", "client_id", postID, "client_secret", postSecret), "")
	f.Add(formOf("grant_type", "password", "username", userName, "password", userPassword), basic(passwordID, passwordSec))
	f.Add(formOf("grant_type", "password", "username", "nobody", "password", "x"), basic(passwordID, passwordSec))
	f.Add(formOf("grant_type", "refresh_token", "refresh_token", oauth.RandomToken()+"."+oauth.RandomToken()), basic(webID, webSecret))
	f.Add(formOf("grant_type", "authorization_code", "code", oauth.RandomToken(), "redirect_uri", redirectURI,
		"code_verifier", strings.Repeat("v", 43)), basic(webID, webSecret))
	f.Add("grant_type=client_credentials&client_id="+publicID, "")
	f.Fuzz(func(t *testing.T, body, auth string) {
		w := p.serve(http.MethodPost, oauth.PathToken, formType, body, auth)
		if w.Code >= 500 {
			t.Fatalf("status %d for body %q auth %q: %s", w.Code, body, auth, w.Body)
		}
		if !json.Valid(w.Body.Bytes()) {
			t.Fatalf("status %d, body not JSON: %q", w.Code, w.Body)
		}
		if w.Code != http.StatusOK && w.Header().Get("Cache-Control") != "no-store" {
			t.Fatalf("status %d without Cache-Control: no-store", w.Code)
		}
	})
}
