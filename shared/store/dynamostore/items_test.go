package dynamostore

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/gatehouse/gatehouse/shared/oauth"
)

// These tests need no DynamoDB: every record survives the item types of
// items.go and attributevalue, field by field; the items have the shape
// docs/dynamodb.md gives; and items of another shape are unreadable.

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
			ClientURI: "https://app.example", LogoURI: "https://app.example/logo.png", FirstParty: true,
			IntrospectionAllowed: true, PreviousSecretHash: "psh", PreviousSecretExpiresAt: t0,
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
			got, err := clientOf(itemOfClient(c))
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
	wantItem(t, itemOfClient(&oauth.Client{ID: "app", Scopes: []string{"a", "b"}, RedirectURIs: []string{"https://x/cb"},
		AccessTokenLifetime: 90 * time.Second, FirstParty: true}), map[string]string{
		"client_id":             "S:app",
		"scope":                 "S:a b",
		"redirect_uris":         "L:[S:https://x/cb]",
		"access_token_lifetime": "N:90",
		"first_party":           "BOOL:true",
	})
	// The flag of a resource server, and the secret a rotation replaced with
	// its expiry in epoch seconds.
	wantItem(t, itemOfClient(&oauth.Client{ID: "rs", SecretHash: "sh", IntrospectionAllowed: true,
		PreviousSecretHash: "psh", PreviousSecretExpiresAt: t0}), map[string]string{
		"client_id":                  "S:rs",
		"secret_hash":                "S:sh",
		"introspection_allowed":      "BOOL:true",
		"previous_secret_hash":       "S:psh",
		"previous_secret_expires_at": "N:1900000000",
	})
	// A zero lifetime (the server default), empty strings and lists, and
	// false flags are omitted.
	wantItem(t, itemOfClient(&oauth.Client{ID: "app", GrantTypes: []string{}}), map[string]string{"client_id": "S:app"})
	// A JWK Set is one JSON string; a jwks_uri a plain one.
	wantItem(t, itemOfClient(&oauth.Client{ID: "svc", JWKS: &oauth.JWKS{Keys: []oauth.JWK{{Kty: "EC", Kid: "k", Crv: "P-256", X: "x", Y: "y"}}}}),
		map[string]string{"client_id": "S:svc", "jwks": `S:{"keys":[{"kty":"EC","kid":"k","crv":"P-256","x":"x","y":"y"}]}`})
	wantItem(t, itemOfClient(&oauth.Client{ID: "svc", JWKSURI: "https://svc.example/jwks"}),
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
	wantItem(t, marshal(assertionIDItem{PK: "jti_asrt#k", ExpiresAt: t1, Nonce: "n"}),
		map[string]string{"pk": "S:jti_asrt#k", "expires_at": "N:1900003600", "nonce": "S:n"})
}

func TestUserRoundTrip(t *testing.T) {
	for name, u := range map[string]*oauth.User{
		"plain":    {Username: "alice", Subject: "sub-1", PasswordHash: "$argon2id$..."},
		"consents": {Username: "bob", Subject: "sub-2", Consents: map[string][]string{"web": {"read", "write"}, "cli": {}}},
	} {
		got, err := userOf(itemOfUser(u))
		if err != nil || !reflect.DeepEqual(got, u) {
			t.Errorf("%s: round trip = %+v, %v; want %+v", name, got, err, u)
		}
	}
	wantItem(t, itemOfUser(&oauth.User{Username: "alice", Subject: "sub-1", PasswordHash: "ph",
		Consents: map[string][]string{"web": {"write", "read", "read"}}}), map[string]string{
		"username": "S:alice", "subject": "S:sub-1", "password_hash": "S:ph",
		"consent#web": "SS:[  write read]", // the marker " " first, then each scope once
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
			got, err := codeOf(itemOfCode(c))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(*got, *c) {
				t.Errorf("round trip = %+v, want %+v", got, c)
			}
		})
	}
	// redeemed is always written, since RedeemCode's condition reads it.
	wantItem(t, itemOfCode(&oauth.AuthorizationCode{Hash: "h", GrantID: "g", ExpiresAt: t1}), map[string]string{
		"code_hash": "S:h", "grant_id": "S:g", "expires_at": "N:1900003600", "redeemed": "BOOL:false",
	})
}

func TestRefreshTokenRoundTrip(t *testing.T) {
	rt := &oauth.RefreshToken{
		Hash: "h", GrantID: "g", ClientID: "app", Subject: "sub", Username: "alice",
		Scopes: []string{"openid", "offline_access"}, IssuedAt: t0, ExpiresAt: t1, Rotated: true,
	}
	got, err := refreshTokenOf(itemOfRefreshToken(rt))
	if err != nil || !reflect.DeepEqual(got, rt) {
		t.Errorf("round trip = %+v, %v; want %+v", got, err, rt)
	}
	// GrantRevoked is computed on read, never stored.
	revoked := *rt
	revoked.GrantRevoked = true
	if a, b := itemOfRefreshToken(&revoked), itemOfRefreshToken(rt); show(a) != show(b) {
		t.Errorf("GrantRevoked was stored: %s", show(a))
	}
	wantItem(t, itemOfRefreshToken(&oauth.RefreshToken{Hash: "h", GrantID: "g", ExpiresAt: t1}), map[string]string{
		"pk": "S:rt#h", "grant_id": "S:g", "expires_at": "N:1900003600", "rotated": "BOOL:false",
	})
}

func TestSessionRoundTrip(t *testing.T) {
	idle := t0.Add(10 * time.Minute)
	s := &oauth.Session{Hash: "h", Subject: "sub", Username: "alice", AuthTime: t0, ExpiresAt: t1, IdleExpiresAt: idle,
		Consents: map[string][]string{"web": {"read", "write"}, "cli": {}}}
	got, err := sessionOf(itemOfSession(s))
	if err != nil || !reflect.DeepEqual(got, s) {
		t.Errorf("round trip = %+v, %v; want %+v", got, err, s)
	}
	// expires_at, which TTL deletes by, is the idle expiry; consents are
	// string sets with the marker that lets a consent to no scope be a set.
	wantItem(t, itemOfSession(s), map[string]string{
		"session_hash": "S:h", "subject": "S:sub", "username": "S:alice", "auth_time": "N:1900000000",
		"expires_at": "N:1900000600", "session_expires_at": "N:1900003600",
		"consent#web": "SS:[  read write]", "consent#cli": "SS:[ ]",
	})
	// A session without an idle expiry ends at its absolute one; one
	// written before idle expiry existed (no session_expires_at) too.
	for name, it := range map[string]item{
		"no idle expiry": itemOfSession(&oauth.Session{Hash: "h", ExpiresAt: t1}),
		"older item":     {"session_hash": str("h"), "expires_at": epoch(t1)},
	} {
		got, err = sessionOf(it)
		if err != nil || !got.IdleExpiresAt.Equal(t1) && name != "older item" || !got.ExpiresAt.Equal(t1) {
			t.Errorf("%s: %+v, %v", name, got, err)
		}
	}
}

func TestLoginCounterItem(t *testing.T) {
	it := marshal(loginCounterItem{Key: "login#ip#x#1", Failures: 3, ExpiresAt: t1})
	wantItem(t, it, map[string]string{"session_hash": "S:login#ip#x#1", "failures": "N:3", "expires_at": "N:1900003600"})
	var back loginCounterItem
	if err := unmarshal(it, &back); err != nil || back.Failures != 3 || !back.ExpiresAt.Equal(t1) {
		t.Errorf("round trip = %+v, %v", back, err)
	}
}

// TestTimesAreEpochSeconds: times keep whole seconds, rounded down, so a
// record never outlives its ExpiresAt.
func TestTimesAreEpochSeconds(t *testing.T) {
	exp := t1.Add(999 * time.Millisecond)
	it := itemOfSession(&oauth.Session{Hash: "h", ExpiresAt: exp})
	got, err := sessionOf(it)
	if err != nil || !got.ExpiresAt.Equal(t1) {
		t.Errorf("ExpiresAt = %v, %v; want %v", got.ExpiresAt, err, t1)
	}
	if live(it, t1.Unix()) || !live(it, t1.Unix()-1) {
		t.Error("live() disagrees with expires_at")
	}
	if live(item{}, 0) || live(item{"expires_at": str("soon")}, 0) {
		t.Error("an item without a readable expires_at is live")
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

// TestUnreadableItems: attributes of another type than the design's are
// errors, not zero values, nor values converted (attributevalue alone
// would read a number into a string, and NULL as empty).
func TestUnreadableItems(t *testing.T) {
	null := &types.AttributeValueMemberNULL{Value: true}
	list := func(vs ...types.AttributeValue) types.AttributeValue { return &types.AttributeValueMemberL{Value: vs} }
	set := &types.AttributeValueMemberSS{Value: []string{"a"}}
	asMap := &types.AttributeValueMemberM{Value: item{"keys": list()}}
	for name, c := range map[string]struct {
		it   item
		from func(item) error
	}{
		"time as string":       {item{"code_hash": str("h"), "expires_at": str("2030-01-01T00:00:00Z")}, readCode},
		"bad number":           {item{"code_hash": str("h"), "expires_at": &types.AttributeValueMemberN{Value: "1.5"}}, readCode},
		"bool as string":       {item{"pk": str("rt#h"), "rotated": str("yes")}, readRefreshToken},
		"scope a number":       {item{"pk": str("rt#h"), "scope": num(7)}, readRefreshToken},
		"not a refresh token":  {item{"pk": str("grant#g")}, readRefreshToken},
		"list of numbers":      {item{"client_id": str("c"), "redirect_uris": list(num(1))}, readClient},
		"list as a string set": {item{"client_id": str("c"), "grant_types": set}, readClient},
		"jwks not JSON":        {item{"client_id": str("c"), "jwks": str("{keys")}, readClient},
		"jwks as a map":        {item{"client_id": str("c"), "jwks": asMap}, readClient},
		"subject a number":     {item{"username": str("alice"), "subject": num(1)}, readUser},
		"consent as a list":    {item{"username": str("alice"), "consent#web": list(str("read"))}, readUser},
		"null subject":         {item{"session_hash": str("h"), "subject": null}, readSession},
		"counter as string":    {item{"session_hash": str("login#ip#x#1"), "failures": str("3")}, readCounter},
	} {
		if err := c.from(c.it); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func readCode(it item) error         { _, err := codeOf(it); return err }
func readRefreshToken(it item) error { _, err := refreshTokenOf(it); return err }
func readClient(it item) error       { _, err := clientOf(it); return err }
func readUser(it item) error         { _, err := userOf(it); return err }
func readSession(it item) error      { _, err := sessionOf(it); return err }
func readCounter(it item) error      { return unmarshal(it, &loginCounterItem{}) }

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

func showValue(v types.AttributeValue) string {
	switch v := v.(type) {
	case nil:
		return "<absent>"
	case *types.AttributeValueMemberS:
		return "S:" + v.Value
	case *types.AttributeValueMemberN:
		return "N:" + v.Value
	case *types.AttributeValueMemberBOOL:
		return fmt.Sprintf("BOOL:%t", v.Value)
	case *types.AttributeValueMemberSS:
		return fmt.Sprintf("SS:%v", v.Value)
	case *types.AttributeValueMemberL:
		var parts []string
		for _, e := range v.Value {
			parts = append(parts, showValue(e))
		}
		return "L:[" + strings.Join(parts, " ") + "]"
	}
	return typeName(v) + ":?"
}
