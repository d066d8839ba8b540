package oauth_test

import (
	"context"
	"encoding/base64"
	"net/url"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/shared/oauth"
	"github.com/gatehouse/gatehouse/shared/signer/localsigner"
	"github.com/gatehouse/gatehouse/shared/store/memstore"
	"github.com/golang-jwt/jwt/v5"
)

// signIDToken signs claims with signer as the server would an ID token,
// with the typ header given ("" for none).
func signIDToken(t *testing.T, signer oauth.Signer, typ string, claims jwt.Claims) string {
	t.Helper()
	ctx := context.Background()
	kid, err := signer.KeyID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tok := jwt.NewWithClaims(jwt.GetSigningMethod(signer.Algorithm()), claims)
	tok.Header["kid"] = kid
	if typ == "" {
		delete(tok.Header, "typ")
	} else {
		tok.Header["typ"] = typ
	}
	input, err := tok.SigningString()
	if err != nil {
		t.Fatal(err)
	}
	sig, err := signer.Sign(ctx, []byte(input))
	if err != nil {
		t.Fatal(err)
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// TestParseLogoutRequest: RP-Initiated Logout 1.0 §2, §3. A hint must be
// an ID token of this server (an expired one is fine); client_id must
// agree with it; a post_logout_redirect_uri must be registered exactly for
// the request's client, and nothing is redirected otherwise.
func TestParseLogoutRequest(t *testing.T) {
	const issuer = "https://auth.example.com"
	ctx := context.Background()
	signer, err := localsigner.New("RS256")
	if err != nil {
		t.Fatal(err)
	}
	other, err := localsigner.New("RS256")
	if err != nil {
		t.Fatal(err)
	}
	store := memstore.New()
	for _, c := range []*oauth.Client{
		{ID: "app", RedirectURIs: []string{"https://app.example/cb"}, PostLogoutRedirectURIs: []string{"https://app.example/bye", "https://app.example/out?from=op"}},
		{ID: "other", PostLogoutRedirectURIs: []string{"https://other.example/bye"}},
	} {
		if err := store.PutClient(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	srv, err := oauth.NewServer(oauth.Config{Issuer: issuer}, store, signer, nil)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	claims := func(iss, sub string, aud ...string) jwt.MapClaims {
		return jwt.MapClaims{"iss": iss, "sub": sub, "aud": aud, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
	}
	hint := signIDToken(t, signer, "JWT", claims(issuer, "user-1", "app"))
	expired := claims(issuer, "user-1", "app")
	expired["exp"], expired["iat"] = now.Add(-48*time.Hour).Unix(), now.Add(-49*time.Hour).Unix()
	azp := claims(issuer, "user-1", "app", "api")
	azp["azp"] = "app"

	for _, tc := range []struct {
		name        string
		params      url.Values
		wantErr     string // the error code; "" for none
		wantClient  string
		wantSubject string
		wantLoc     string
	}{
		{name: "nothing", params: url.Values{}},
		{name: "hint", params: url.Values{"id_token_hint": {hint}}, wantClient: "app", wantSubject: "user-1"},
		{name: "hint without typ", params: url.Values{"id_token_hint": {signIDToken(t, signer, "", claims(issuer, "user-1", "app"))}}, wantClient: "app", wantSubject: "user-1"},
		{name: "expired hint (§2: accepted)", params: url.Values{"id_token_hint": {signIDToken(t, signer, "JWT", expired)}}, wantClient: "app", wantSubject: "user-1"},
		{name: "hint with azp", params: url.Values{"id_token_hint": {signIDToken(t, signer, "JWT", azp)}}, wantClient: "app", wantSubject: "user-1"},
		{name: "hint, uri and state", params: url.Values{"id_token_hint": {hint}, "post_logout_redirect_uri": {"https://app.example/bye"}, "state": {"s 1&x"}},
			wantClient: "app", wantSubject: "user-1", wantLoc: "https://app.example/bye?state=s+1%26x"},
		{name: "registered query kept", params: url.Values{"client_id": {"app"}, "post_logout_redirect_uri": {"https://app.example/out?from=op"}, "state": {"s"}},
			wantClient: "app", wantLoc: "https://app.example/out?from=op&state=s"},
		{name: "client_id and uri, no state", params: url.Values{"client_id": {"app"}, "post_logout_redirect_uri": {"https://app.example/bye"}},
			wantClient: "app", wantLoc: "https://app.example/bye"},

		{name: "hint signed by another key", params: url.Values{"id_token_hint": {signIDToken(t, other, "JWT", claims(issuer, "user-1", "app"))}}, wantErr: oauth.CodeInvalidRequest},
		{name: "hint of another issuer", params: url.Values{"id_token_hint": {signIDToken(t, signer, "JWT", claims("https://evil.example", "user-1", "app"))}}, wantErr: oauth.CodeInvalidRequest},
		{name: "access token as hint", params: url.Values{"id_token_hint": {signIDToken(t, signer, oauth.AccessTokenType, claims(issuer, "user-1", "app"))}}, wantErr: oauth.CodeInvalidRequest},
		{name: "hint without sub", params: url.Values{"id_token_hint": {signIDToken(t, signer, "JWT", claims(issuer, "", "app"))}}, wantErr: oauth.CodeInvalidRequest},
		{name: "hint with two audiences, no azp", params: url.Values{"id_token_hint": {signIDToken(t, signer, "JWT", claims(issuer, "user-1", "app", "other"))}}, wantErr: oauth.CodeInvalidRequest},
		{name: "alg none", params: url.Values{"id_token_hint": {"eyJhbGciOiJub25lIn0.eyJpc3MiOiJodHRwczovL2F1dGguZXhhbXBsZS5jb20iLCJzdWIiOiJ1c2VyLTEiLCJhdWQiOiJhcHAifQ."}}, wantErr: oauth.CodeInvalidRequest},
		{name: "garbage hint", params: url.Values{"id_token_hint": {"not-a-jwt"}}, wantErr: oauth.CodeInvalidRequest},
		{name: "client_id disagrees with hint", params: url.Values{"id_token_hint": {hint}, "client_id": {"other"}}, wantErr: oauth.CodeInvalidRequest},
		{name: "unknown client_id", params: url.Values{"client_id": {"nobody"}}, wantErr: oauth.CodeInvalidRequest},
		{name: "uri without a client", params: url.Values{"post_logout_redirect_uri": {"https://app.example/bye"}}, wantErr: oauth.CodeInvalidRequest},
		{name: "unregistered uri", params: url.Values{"client_id": {"app"}, "post_logout_redirect_uri": {"https://evil.example/"}}, wantErr: oauth.CodeInvalidRequest},
		{name: "another client's uri", params: url.Values{"id_token_hint": {hint}, "post_logout_redirect_uri": {"https://other.example/bye"}}, wantErr: oauth.CodeInvalidRequest},
		{name: "the client's redirect_uri is not a logout uri", params: url.Values{"client_id": {"app"}, "post_logout_redirect_uri": {"https://app.example/cb"}}, wantErr: oauth.CodeInvalidRequest},
		{name: "uri differing by a trailing slash", params: url.Values{"client_id": {"app"}, "post_logout_redirect_uri": {"https://app.example/bye/"}}, wantErr: oauth.CodeInvalidRequest},
		{name: "repeated state", params: url.Values{"state": {"a", "b"}}, wantErr: oauth.CodeInvalidRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, oe := srv.ParseLogoutRequest(ctx, tc.params)
			if tc.wantErr != "" {
				if oe == nil || oe.Code != tc.wantErr || req != nil {
					t.Fatalf("got %+v, %v; want %s", req, oe, tc.wantErr)
				}
				return
			}
			if oe != nil {
				t.Fatalf("error %v", oe)
			}
			var client string
			if req.Client != nil {
				client = req.Client.ID
			}
			if client != tc.wantClient || req.HintSubject != tc.wantSubject || req.Location() != tc.wantLoc {
				t.Errorf("client %q subject %q location %q; want %q %q %q", client, req.HintSubject, req.Location(), tc.wantClient, tc.wantSubject, tc.wantLoc)
			}
		})
	}
}

// TestLogoutNeedsConfirmation: RP-Initiated Logout 1.0 §4. Only a hint
// naming the session's user ends it without asking.
func TestLogoutNeedsConfirmation(t *testing.T) {
	sess := &oauth.Session{Subject: "user-1"}
	for _, tc := range []struct {
		hint string
		sess *oauth.Session
		want bool
	}{
		{"", sess, true},
		{"", nil, true},
		{"user-1", sess, false},
		{"user-2", sess, true},
		{"user-1", nil, false},
	} {
		if got := (&oauth.LogoutRequest{HintSubject: tc.hint}).NeedsConfirmation(tc.sess); got != tc.want {
			t.Errorf("hint %q, session %v: %v, want %v", tc.hint, tc.sess, got, tc.want)
		}
	}
}
