package dynamostore

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/shared/oauth"
)

// These tests need no DynamoDB: they check that every record survives
// marshaling, field by field, and how it looks as an item.

var (
	t0 = time.Unix(1_900_000_000, 0)
	t1 = time.Unix(1_900_003_600, 0)
)

func TestClientRoundTrip(t *testing.T) {
	for name, c := range map[string]*oauth.Client{
		"full": {
			ID: "app", SecretHash: "sh", Name: "App",
			RedirectURIs:  []string{"https://app.example/cb", "https://app.example/cb2"},
			GrantTypes:    []string{"authorization_code", "refresh_token"},
			ResponseTypes: []string{"code"}, Scopes: []string{"openid", "profile"},
			TokenEndpointAuthMethod: "client_secret_basic", AccessTokenLifetime: 15 * time.Minute,
		},
		"minimal": {ID: "public"},
		"private_key_jwt, inline keys": {
			ID: "svc", GrantTypes: []string{"client_credentials"}, TokenEndpointAuthMethod: "private_key_jwt",
			JWKS: &oauth.JWKS{Keys: []oauth.JWK{
				{Kty: "RSA", Use: "sig", Alg: "PS256", Kid: "r1", N: "0vx7agoebGc", E: "AQAB"},
				{Kty: "EC", Kid: "e1", Crv: "P-256", X: "f83OJ3D2xF1", Y: "x_FEzRu9m36"},
			}},
		},
		"private_key_jwt, empty key set": {ID: "svc", TokenEndpointAuthMethod: "private_key_jwt", JWKS: &oauth.JWKS{Keys: []oauth.JWK{}}},
		"private_key_jwt, jwks_uri": {
			ID: "svc", TokenEndpointAuthMethod: "private_key_jwt", JWKSURI: "https://svc.example/jwks.json",
		},
	} {
		t.Run(name, func(t *testing.T) {
			got, err := clientFrom(clientItem(c))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, c) {
				t.Errorf("round trip = %+v, want %+v", got, c)
			}
		})
	}
}

func TestClientItem(t *testing.T) {
	it := clientItem(&oauth.Client{ID: "app", Scopes: []string{"a", "b"}, RedirectURIs: []string{"https://x/cb"},
		AccessTokenLifetime: 90 * time.Second})
	wantItem(t, it, map[string]string{
		"client_id":             "S:app",
		"scope":                 "S:a b",
		"redirect_uris":         "L:[S:https://x/cb]",
		"access_token_lifetime": "N:90",
	})
	// A zero lifetime (the server default) and empty strings are omitted.
	wantItem(t, clientItem(&oauth.Client{ID: "app"}), map[string]string{"client_id": "S:app"})
	// A JWK Set is one JSON string; a jwks_uri a plain one.
	wantItem(t, clientItem(&oauth.Client{ID: "svc", JWKS: &oauth.JWKS{Keys: []oauth.JWK{{Kty: "EC", Kid: "k", Crv: "P-256", X: "x", Y: "y"}}}}),
		map[string]string{"client_id": "S:svc", "jwks": `S:{"keys":[{"kty":"EC","kid":"k","crv":"P-256","x":"x","y":"y"}]}`})
	wantItem(t, clientItem(&oauth.Client{ID: "svc", JWKSURI: "https://svc.example/jwks"}),
		map[string]string{"client_id": "S:svc", "jwks_uri": "S:https://svc.example/jwks"})
}

// TestAssertionIDKey: the key hashes the client id and jti together, so
// the same jti of two clients, or a split moved between them, differ, and
// any jti fits a key.
func TestAssertionIDKey(t *testing.T) {
	k := assertionIDKey("client", "jti-1")
	if !strings.HasPrefix(k, "jti_asrt#") || len(k) != len("jti_asrt#")+43 {
		t.Errorf("key %q: want jti_asrt# and 43 base64url characters", k)
	}
	for _, other := range []string{
		assertionIDKey("client", "jti-2"),
		assertionIDKey("other", "jti-1"),
		assertionIDKey("clientj", "ti-1"),
	} {
		if other == k {
			t.Errorf("two assertion ids share the key %q", k)
		}
	}
	if k != assertionIDKey("client", "jti-1") {
		t.Error("the key is not deterministic")
	}
}

func TestUserRoundTrip(t *testing.T) {
	u := &oauth.User{Username: "alice", Subject: "sub-1", PasswordHash: "$argon2id$..."}
	got, err := userFrom(userItem(u))
	if err != nil || !reflect.DeepEqual(got, u) {
		t.Errorf("round trip = %+v, %v; want %+v", got, err, u)
	}
	wantItem(t, userItem(u), map[string]string{
		"username": "S:alice", "subject": "S:sub-1", "password_hash": "S:$argon2id$...",
	})
}

func TestCodeRoundTrip(t *testing.T) {
	for name, c := range map[string]*oauth.AuthorizationCode{
		"full": {
			Hash: "h", GrantID: "g", ClientID: "app", RedirectURI: "https://app.example/cb",
			Scopes: []string{"openid"}, Subject: "sub", Username: "alice",
			CodeChallenge: "cc", CodeChallengeMethod: "S256", AuthTime: t0, ExpiresAt: t1, Redeemed: true,
		},
		"minimal": {Hash: "h", GrantID: "g", ExpiresAt: t1},
	} {
		t.Run(name, func(t *testing.T) {
			got, err := codeFrom(codeItem(c))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(*got, *c) {
				t.Errorf("round trip = %+v, want %+v", got, c)
			}
		})
	}
	// redeemed is always written, since RedeemCode's condition reads it.
	wantItem(t, codeItem(&oauth.AuthorizationCode{Hash: "h", GrantID: "g", ExpiresAt: t1}), map[string]string{
		"code_hash": "S:h", "grant_id": "S:g", "expires_at": "N:1900003600", "redeemed": "BOOL:false",
	})
}

func TestRefreshTokenRoundTrip(t *testing.T) {
	rt := &oauth.RefreshToken{
		Hash: "h", GrantID: "g", ClientID: "app", Subject: "sub", Username: "alice",
		Scopes: []string{"openid", "offline_access"}, IssuedAt: t0, ExpiresAt: t1, Rotated: true,
	}
	got, err := refreshTokenFrom(refreshTokenItem(rt))
	if err != nil || !reflect.DeepEqual(got, rt) {
		t.Errorf("round trip = %+v, %v; want %+v", got, err, rt)
	}
	// GrantRevoked is computed on read, never stored.
	revoked := *rt
	revoked.GrantRevoked = true
	if _, ok := refreshTokenItem(&revoked)["grant_revoked"]; ok || len(refreshTokenItem(&revoked)) != len(refreshTokenItem(rt)) {
		t.Error("GrantRevoked was stored")
	}
	wantItem(t, refreshTokenItem(&oauth.RefreshToken{Hash: "h", GrantID: "g", ExpiresAt: t1}), map[string]string{
		"pk": "S:rt#h", "grant_id": "S:g", "expires_at": "N:1900003600", "rotated": "BOOL:false",
	})
}

func TestSessionRoundTrip(t *testing.T) {
	idle := t0.Add(10 * time.Minute)
	s := &oauth.Session{Hash: "h", Subject: "sub", Username: "alice", AuthTime: t0, ExpiresAt: t1, IdleExpiresAt: idle,
		Consents: map[string][]string{"web": {"read", "write"}, "cli": {}}}
	got, err := sessionFrom(sessionItem(s))
	if err != nil || !reflect.DeepEqual(got, s) {
		t.Errorf("round trip = %+v, %v; want %+v", got, err, s)
	}
	// expires_at, which TTL deletes by, is the idle expiry; consents are
	// string sets with the marker that lets a consent to no scope be a set.
	it := sessionItem(s)
	if e := it["expires_at"]; e.s != "1900000600" || it["session_expires_at"].s != "1900003600" {
		t.Errorf("expires_at %v, session_expires_at %v", e, it["session_expires_at"])
	}
	if c := it["consent#cli"]; c.typ != "SS" || !reflect.DeepEqual(c.ss, []string{" "}) {
		t.Errorf("consent#cli = %+v", c)
	}
	// A session without an idle expiry ends at its absolute one.
	noIdle := &oauth.Session{Hash: "h", ExpiresAt: t1}
	got, err = sessionFrom(sessionItem(noIdle))
	if err != nil || !got.IdleExpiresAt.Equal(t1) || !got.ExpiresAt.Equal(t1) {
		t.Errorf("without idle expiry: %+v, %v", got, err)
	}
}

// TestTimesAreEpochSeconds: times keep whole seconds, rounded down, so a
// record never outlives its ExpiresAt.
func TestTimesAreEpochSeconds(t *testing.T) {
	exp := t1.Add(999 * time.Millisecond)
	it := sessionItem(&oauth.Session{Hash: "h", ExpiresAt: exp})
	got, err := sessionFrom(it)
	if err != nil || !got.ExpiresAt.Equal(t1) {
		t.Errorf("ExpiresAt = %v, %v; want %v", got.ExpiresAt, err, t1)
	}
	if live(it, t1.Unix()) || !live(it, t1.Unix()-1) {
		t.Error("live() disagrees with expires_at")
	}
	if live(item{}, 0) {
		t.Error("an item without expires_at is live")
	}
}

func TestKeys(t *testing.T) {
	for _, c := range []struct {
		it   item
		want string
	}{
		{refreshTokenKey("h"), "pk=S:rt#h"},
		{grantKey("g"), "pk=S:grant#g"},
		{jtiKey("j"), "pk=S:jti#j"},
		{codeKey("h"), "code_hash=S:h"},
		{sessionKey("h"), "session_hash=S:h"},
		{clientKey("c"), "client_id=S:c"},
		{userKey("u"), "username=S:u"},
	} {
		if got := show(c.it); got != c.want {
			t.Errorf("key = %s, want %s", got, c.want)
		}
	}
}

// TestUnreadableItems: attributes of the wrong type are errors, not zero
// values.
func TestUnreadableItems(t *testing.T) {
	for name, c := range map[string]struct {
		it   item
		from func(item) error
	}{
		"number as string": {item{"code_hash": str("h"), "expires_at": str("soon")},
			func(it item) error { _, err := codeFrom(it); return err }},
		"bad number": {item{"code_hash": str("h"), "expires_at": value{typ: typeN, s: "1.5"}},
			func(it item) error { _, err := codeFrom(it); return err }},
		"bool as string": {item{"pk": str("rt#h"), "rotated": str("yes")},
			func(it item) error { _, err := refreshTokenFrom(it); return err }},
		"list of numbers": {item{"client_id": str("c"), "redirect_uris": value{typ: typeL, l: []value{num(1)}}},
			func(it item) error { _, err := clientFrom(it); return err }},
		"not a refresh token": {item{"pk": str("grant#g")},
			func(it item) error { _, err := refreshTokenFrom(it); return err }},
		"jwks not JSON": {item{"client_id": str("c"), "jwks": str("{keys")},
			func(it item) error { _, err := clientFrom(it); return err }},
		"list as a string set": {item{"client_id": str("c"), "grant_types": value{typ: "SS"}},
			func(it item) error { _, err := clientFrom(it); return err }},
		"null subject": {item{"session_hash": str("h"), "subject": value{typ: "NULL", b: true}},
			func(it item) error { _, err := sessionFrom(it); return err }},
		"jwks as a map": {item{"client_id": str("c"), "jwks": value{typ: "M"}},
			func(it item) error { _, err := clientFrom(it); return err }},
	} {
		if err := c.from(c.it); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// wantItem fails unless it holds exactly the attributes in want, each
// shown as TYPE:value.
func wantItem(t *testing.T, it item, want map[string]string) {
	t.Helper()
	if len(it) != len(want) {
		t.Errorf("item %s has %d attributes, want %d", show(it), len(it), len(want))
	}
	for name, w := range want {
		if got := showValue(it[name]); got != w {
			t.Errorf("attribute %s = %s, want %s", name, got, w)
		}
	}
}

// show shows an item's attributes, sorted by name: a=S:x,b=N:1.
func show(it item) string {
	var parts []string
	for k, v := range it {
		parts = append(parts, k+"="+showValue(v))
	}
	slices.Sort(parts)
	return strings.Join(parts, ",")
}

func showValue(v value) string {
	switch v.typ {
	case "":
		return "<absent>"
	case typeS, typeN:
		return v.typ + ":" + v.s
	case typeBOOL:
		if v.b {
			return "BOOL:true"
		}
		return "BOOL:false"
	case typeL:
		var parts []string
		for _, e := range v.l {
			parts = append(parts, showValue(e))
		}
		return "L:[" + strings.Join(parts, " ") + "]"
	default:
		return v.typ + ":?"
	}
}

// TestItemJSON: items travel as DynamoDB JSON, one member per value named
// by its type, and come back as they went.
func TestItemJSON(t *testing.T) {
	it := clientItem(&oauth.Client{ID: "app", RedirectURIs: []string{"https://x/cb", "https://y/cb"},
		AccessTokenLifetime: 90 * time.Second})
	it["flag"] = valTrue
	it["empty"] = str("")
	data, err := json.Marshal(it)
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"access_token_lifetime":{"N":"90"},"client_id":{"S":"app"},"empty":{"S":""},"flag":{"BOOL":true},` +
		`"redirect_uris":{"L":[{"S":"https://x/cb"},{"S":"https://y/cb"}]}}`
	if string(data) != want {
		t.Errorf("JSON = %s, want %s", data, want)
	}
	var back item
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, it) {
		t.Errorf("round trip = %s, want %s", show(back), show(it))
	}
	// An empty list is [], never null.
	if data, err := json.Marshal(value{typ: typeL}); err != nil || string(data) != `{"L":[]}` {
		t.Errorf("empty list = %s, %v", data, err)
	}
	if _, err := json.Marshal(value{}); err == nil {
		t.Error("a value without a type was written")
	}
}

// TestValueUnmarshal: a value of a type the store never writes keeps its
// type name (the readers reject it); an object of other than one member
// is malformed.
func TestValueUnmarshal(t *testing.T) {
	var it item
	data := `{"a":{"SS":["x","y"]},"b":{"M":{"c":{"S":"d"}}},"c":{"NULL":true},"d":{"L":[{"N":"1"},{"B":"AAE="}]}}`
	if err := json.Unmarshal([]byte(data), &it); err != nil {
		t.Fatal(err)
	}
	if got := show(it); got != "a=SS:?,b=M:?,c=NULL:?,d=L:[N:1 B:?]" {
		t.Errorf("read %s", got)
	}
	for _, bad := range []string{`{}`, `{"S":"a","N":"1"}`, `{"S":1}`, `{"BOOL":"yes"}`, `{"L":{}}`, `"S"`} {
		var v value
		if err := json.Unmarshal([]byte(bad), &v); err == nil {
			t.Errorf("%s: read as %s, want an error", bad, showValue(v))
		}
	}
}
