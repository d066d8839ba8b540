package oauth_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/shared/oauth"
	"github.com/gatehouse/gatehouse/shared/signer/localsigner"
)

// TestOIDCCDiscoveryEndpointVerification mirrors the conformance suite's
// oidcc-discovery-endpoint-verification module: the document served at
// /.well-known/openid-configuration carries every field OpenID Connect
// Discovery 1.0 §3 makes REQUIRED, with the values it requires (issuer
// the issuer; https endpoints; code among the response types; public
// subjects; RS256 among the ID token algorithms; openid among the scopes),
// says plainly what is not supported (claims, request and request_uri
// parameters: a missing request_uri_parameter_supported means true), and
// names the end-session endpoint (RP-Initiated Logout 1.0 §2.1) and the
// UserInfo endpoint (Discovery §3: RECOMMENDED; Core §5.3), with the user's
// standard claims (Core §5.1) in claims_supported.
func TestOIDCCDiscoveryEndpointVerification(t *testing.T) {
	const issuer = "https://auth.example.com"
	signer, err := localsigner.New("RS256")
	if err != nil {
		t.Fatal(err)
	}
	for _, scopes := range [][]string{nil, {"read", "write"}, {"openid", "read"}} {
		d, err := oauth.NewDiscovery(oauth.Config{Issuer: issuer, ScopesSupported: scopes}, signer)
		if err != nil {
			t.Fatal(err)
		}
		data, err := json.Marshal(d.Metadata())
		if err != nil {
			t.Fatal(err)
		}
		var doc map[string]any
		if err := json.Unmarshal(data, &doc); err != nil {
			t.Fatal(err)
		}
		strs := func(name string) []string {
			list, ok := doc[name].([]any)
			if !ok || len(list) == 0 {
				t.Errorf("%s: %v, want a non-empty array", name, doc[name])
				return nil
			}
			var out []string
			for _, v := range list {
				s, ok := v.(string)
				if !ok {
					t.Errorf("%s holds %v, not a string", name, v)
				}
				out = append(out, s)
			}
			return out
		}
		// REQUIRED (Discovery §3).
		if doc["issuer"] != issuer {
			t.Errorf("issuer %v, want %s", doc["issuer"], issuer)
		}
		for _, name := range []string{"authorization_endpoint", "token_endpoint", "jwks_uri", "end_session_endpoint", "userinfo_endpoint"} {
			if s, _ := doc[name].(string); !strings.HasPrefix(s, issuer+"/") {
				t.Errorf("%s %v, want an https URL under the issuer", name, doc[name])
			}
		}
		if doc["end_session_endpoint"] != issuer+oauth.PathLogout {
			t.Errorf("end_session_endpoint %v", doc["end_session_endpoint"])
		}
		if doc["userinfo_endpoint"] != issuer+oauth.PathUserInfo {
			t.Errorf("userinfo_endpoint %v, want %s", doc["userinfo_endpoint"], issuer+oauth.PathUserInfo)
		}
		if rt := strs("response_types_supported"); !slices.Contains(rt, "code") {
			t.Errorf("response_types_supported %v lacks code", rt)
		}
		if st := strs("subject_types_supported"); !slices.Equal(st, []string{"public"}) {
			t.Errorf("subject_types_supported %v, want [public]", st)
		}
		if algs := strs("id_token_signing_alg_values_supported"); !slices.Contains(algs, "RS256") || slices.Contains(algs, "none") {
			t.Errorf("id_token_signing_alg_values_supported %v: RS256 is required, none refused", algs)
		}
		// RECOMMENDED and OPTIONAL ones that apply.
		if scopes == nil {
			if _, ok := doc["scopes_supported"]; ok {
				t.Errorf("scopes_supported %v with no scope configured", doc["scopes_supported"])
			}
		} else if got := strs("scopes_supported"); !slices.Contains(got, "openid") || !slices.Contains(got, "read") {
			t.Errorf("scopes_supported %v, want openid and the configured %v", got, scopes)
		} else if n := len(slices.DeleteFunc(slices.Clone(got), func(s string) bool { return s != "openid" })); n != 1 {
			t.Errorf("scopes_supported %v names openid twice", got)
		}
		claims := strs("claims_supported")
		// The ID token's claims, and every standard claim UserInfo can
		// release (Core §5.4: profile, email, address, phone), each once.
		for _, c := range append([]string{"sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "at_hash", "amr"}, oauth.SupportedClaims...) {
			if !slices.Contains(claims, c) {
				t.Errorf("claims_supported %v lacks %s", claims, c)
			}
		}
		for _, c := range []string{"name", "email", "email_verified", "preferred_username", "address", "phone_number", "updated_at"} {
			if !slices.Contains(claims, c) {
				t.Errorf("claims_supported %v lacks the user claim %s, which UserInfo returns", claims, c)
			}
		}
		seen := map[string]bool{}
		for _, c := range claims {
			if seen[c] {
				t.Errorf("claims_supported %v names %s twice", claims, c)
			}
			seen[c] = true
		}
		// Nothing the server cannot supply: no acr (one sign-in method),
		// no azp (one audience).
		for _, c := range []string{"acr", "azp"} {
			if slices.Contains(claims, c) {
				t.Errorf("claims_supported %v names %s, which nothing supplies", claims, c)
			}
		}
		for _, name := range []string{"claims_parameter_supported", "request_parameter_supported", "request_uri_parameter_supported", "require_request_uri_registration"} {
			if v, ok := doc[name]; !ok || v != false {
				t.Errorf("%s: %v (present %v), want false, sent", name, v, ok)
			}
		}
		for _, name := range []string{"grant_types_supported", "response_modes_supported", "token_endpoint_auth_methods_supported", "token_endpoint_auth_signing_alg_values_supported"} {
			if v := strs(name); slices.Contains(v, "none") && strings.Contains(name, "alg") {
				t.Errorf("%s %v offers none", name, v)
			}
		}
		for _, unsupported := range []string{"ui_locales_supported", "claims_locales_supported", "request_object_signing_alg_values_supported", "registration_endpoint"} {
			if v, ok := doc[unsupported]; ok {
				t.Errorf("%s advertised (%v), but not built", unsupported, v)
			}
		}
	}
}
