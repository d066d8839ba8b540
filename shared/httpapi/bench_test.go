package httpapi_test

// Benchmarks of the token and introspection endpoints, in process: the
// handler is called directly with an httptest.ResponseRecorder, so no
// network noise. Run with `make bench`. Each token response signs one
// RS256 access token, which dominates the cost.

import (
	"encoding/json"
	"net/http"
	"net/url"
	"testing"

	"github.com/gatehouse/gatehouse/shared/oauth"
)

func benchDecode(b *testing.B, body []byte) map[string]any {
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		b.Fatalf("not JSON: %q", body)
	}
	return m
}

func BenchmarkTokenClientCredentials(b *testing.B) {
	p := newInProcess(b)
	body := "grant_type=client_credentials&scope=read"
	auth := basic(serviceID, serviceSecret)
	b.ReportAllocs()
	for b.Loop() {
		w := p.serve(http.MethodPost, oauth.PathToken, formType, body, auth)
		if w.Code != http.StatusOK {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
}

func BenchmarkTokenCodeExchange(b *testing.B) {
	p := newInProcess(b)
	auth := basic(webID, webSecret)
	// Codes are stored directly in the store, outside the timer, in
	// batches, as the authorization endpoint would store them.
	const batch = 1024
	var bodies []string
	fill := func() {
		bodies = bodies[:0]
		for range batch {
			code, verifier := p.newCode(b, []string{"read", "write"})
			bodies = append(bodies, url.Values{"grant_type": {"authorization_code"}, "code": {code},
				"redirect_uri": {redirectURI}, "code_verifier": {verifier}}.Encode())
		}
	}
	fill()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if i == len(bodies) {
			b.StopTimer()
			fill()
			i = 0
			b.StartTimer()
		}
		w := p.serve(http.MethodPost, oauth.PathToken, formType, bodies[i], auth)
		i++
		if w.Code != http.StatusOK {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
}

func BenchmarkTokenRefresh(b *testing.B) {
	p := newInProcess(b)
	auth := basic(webID, webSecret)
	code, verifier := p.newCode(b, []string{"read", "write"})
	w := p.serve(http.MethodPost, oauth.PathToken, formType, url.Values{"grant_type": {"authorization_code"},
		"code": {code}, "redirect_uri": {redirectURI}, "code_verifier": {verifier}}.Encode(), auth)
	if w.Code != http.StatusOK {
		b.Fatalf("exchange: %d %s", w.Code, w.Body)
	}
	rt := benchDecode(b, w.Body.Bytes())["refresh_token"].(string)
	b.ReportAllocs()
	// Each iteration rotates the token the previous one returned.
	for b.Loop() {
		w := p.serve(http.MethodPost, oauth.PathToken, formType, "grant_type=refresh_token&refresh_token="+url.QueryEscape(rt), auth)
		if w.Code != http.StatusOK {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
		rt = benchDecode(b, w.Body.Bytes())["refresh_token"].(string)
	}
}

func BenchmarkIntrospect(b *testing.B) {
	p := newInProcess(b)
	auth := basic(serviceID, serviceSecret)
	w := p.serve(http.MethodPost, oauth.PathToken, formType, "grant_type=client_credentials&scope=read", auth)
	if w.Code != http.StatusOK {
		b.Fatalf("token: %d %s", w.Code, w.Body)
	}
	body := "token=" + url.QueryEscape(benchDecode(b, w.Body.Bytes())["access_token"].(string))
	b.ReportAllocs()
	for b.Loop() {
		w := p.serve(http.MethodPost, oauth.PathIntrospect, formType, body, auth)
		if w.Code != http.StatusOK {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
}
