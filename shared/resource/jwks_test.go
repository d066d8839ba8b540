package resource

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/shared/oauth"
	"github.com/golang-jwt/jwt/v5"
)

func TestSigningKeys(t *testing.T) {
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	rsaJWK := func(kid, alg, use string) oauth.JWK {
		j, err := oauth.NewJWK(&keyA().priv.PublicKey, kid, alg)
		if err != nil {
			t.Fatal(err)
		}
		j.Use = use
		return j
	}
	ecJWK, err := oauth.NewJWK(&ec.PublicKey, "ec", "ES256")
	if err != nil {
		t.Fatal(err)
	}
	smallJWK, err := oauth.NewJWK(&small.PublicKey, "small", "RS256")
	if err != nil {
		t.Fatal(err)
	}
	ecAsRSA := ecJWK
	ecAsRSA.Kid, ecAsRSA.Alg = "ec-rs256", "RS256"
	broken := rsaJWK("broken", "RS256", "sig")
	broken.N = "!!"

	tests := []struct {
		name string
		jwk  oauth.JWK
		keep bool
	}{
		{"RSA RS256 use sig", rsaJWK("a", "RS256", "sig"), true},
		{"RSA without use", rsaJWK("b", "PS256", ""), true},
		{"EC ES256", ecJWK, true},
		{"no alg", rsaJWK("c", "", "sig"), false},
		{"use enc", rsaJWK("d", "RS256", "enc"), false},
		{"no kid", rsaJWK("", "RS256", "sig"), false},
		{"unsupported alg", rsaJWK("e", "HS256", "sig"), false},
		{"alg none", rsaJWK("f", "none", "sig"), false},
		{"EC key with RSA alg", ecAsRSA, false},
		{"RSA key under 2048 bits", smallJWK, false},
		{"malformed key material", broken, false},
		{"unknown kty", oauth.JWK{Kty: "oct", Kid: "g", Alg: "RS256"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			keys := signingKeys(oauth.JWKS{Keys: []oauth.JWK{tt.jwk}})
			if got := len(keys) == 1; got != tt.keep {
				t.Fatalf("kept %v, want %v", got, tt.keep)
			}
			if tt.keep && (keys[0].KeyID != tt.jwk.Kid || keys[0].Algorithm != tt.jwk.Alg) {
				t.Errorf("got %+v", keys[0])
			}
		})
	}

	t.Run("duplicate kid: first wins", func(t *testing.T) {
		keys := signingKeys(oauth.JWKS{Keys: []oauth.JWK{rsaJWK("dup", "RS256", ""), rsaJWK("dup", "PS256", "")}})
		if len(keys) != 1 || keys[0].Algorithm != "RS256" {
			t.Errorf("got %+v", keys)
		}
	})
}

// An ES256 key from the JWKS verifies ES256 tokens end to end.
func TestES256Token(t *testing.T) {
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	kid, err := oauth.Thumbprint(&ec.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	j, err := oauth.NewJWK(&ec.PublicKey, kid, "ES256")
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, nil)
	f.as.SetKeys(j)
	rec := f.serve(f.handler(), bearer(mintWith(t, jwt.SigningMethodES256, ec, kid, f.claims())))
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d %q", rec.Code, rec.Header().Get("WWW-Authenticate"))
	}
}

func TestNew(t *testing.T) {
	base := func() Config {
		return Config{Issuer: "https://auth.example.test/", Audience: []string{"https://api.example.test"}}
	}
	t.Run("defaults", func(t *testing.T) {
		m, err := New(base())
		if err != nil {
			t.Fatal(err)
		}
		c := m.Config()
		if c.Issuer != "https://auth.example.test" ||
			c.JWKSURL != "https://auth.example.test/.well-known/jwks.json" ||
			c.Leeway != DefaultLeeway || c.MinRefetchInterval != DefaultMinRefetchInterval ||
			c.CacheTTL != DefaultCacheTTL || c.HTTPClient == nil || c.HTTPClient.Timeout != DefaultHTTPTimeout ||
			c.AllowQueryToken || c.Logger == nil {
			t.Errorf("defaults: %+v", c)
		}
	})

	bad := []struct {
		name string
		edit func(*Config)
	}{
		{"no issuer", func(c *Config) { c.Issuer = "" }},
		{"relative issuer", func(c *Config) { c.Issuer = "auth.example.test" }},
		{"plain http issuer", func(c *Config) { c.Issuer = "http://auth.example.test" }},
		{"issuer with query", func(c *Config) { c.Issuer = "https://auth.example.test?x=1" }},
		{"no audience", func(c *Config) { c.Audience = nil }},
		{"empty audience", func(c *Config) { c.Audience = []string{""} }},
		{"plain http JWKS", func(c *Config) { c.JWKSURL = "http://auth.example.test/jwks" }},
		{"negative leeway", func(c *Config) { c.Leeway = -time.Second }},
		{"leeway over max", func(c *Config) { c.Leeway = MaxLeeway + time.Second }},
		{"negative refetch interval", func(c *Config) { c.MinRefetchInterval = -1 }},
		{"negative TTL", func(c *Config) { c.CacheTTL = -1 }},
		{"realm with newline", func(c *Config) { c.Realm = "a\r\nSet-Cookie: x=y" }},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			c := base()
			tt.edit(&c)
			if _, err := New(c); err == nil {
				t.Error("accepted")
			}
		})
	}

	good := []struct {
		name string
		edit func(*Config)
	}{
		{"loopback http issuer", func(c *Config) { c.Issuer = "http://127.0.0.1:8080" }},
		{"localhost http JWKS", func(c *Config) { c.JWKSURL = "http://localhost:8080/jwks" }},
		{"max leeway", func(c *Config) { c.Leeway = MaxLeeway }},
	}
	for _, tt := range good {
		t.Run(tt.name, func(t *testing.T) {
			c := base()
			tt.edit(&c)
			if _, err := New(c); err != nil {
				t.Error(err)
			}
		})
	}

	t.Run("audience is copied", func(t *testing.T) {
		c := base()
		m, err := New(c)
		if err != nil {
			t.Fatal(err)
		}
		c.Audience[0] = "https://changed.example.test"
		if !slices.Equal(m.Config().Audience, []string{"https://api.example.test"}) {
			t.Error("Config.Audience aliased")
		}
	})
}

func TestClaimsFromAndHasScope(t *testing.T) {
	if c, ok := ClaimsFrom(context.Background()); ok || c != nil {
		t.Error("claims in an empty context")
	}
	claims := &oauth.AccessTokenClaims{Scope: "read write:notes"}
	ctx := context.WithValue(context.Background(), claimsKey{}, claims)
	if c, ok := ClaimsFrom(ctx); !ok || c != claims {
		t.Error("claims not found")
	}
	tests := []struct {
		claims *oauth.AccessTokenClaims
		scopes []string
		want   bool
	}{
		{claims, nil, true},
		{claims, []string{"read"}, true},
		{claims, []string{"read", "write:notes"}, true},
		{claims, []string{"write"}, false},
		{claims, []string{"read", "admin"}, false},
		{claims, []string{""}, false},
		{&oauth.AccessTokenClaims{}, []string{"read"}, false},
		{nil, nil, false},
	}
	for _, tt := range tests {
		if got := HasScope(tt.claims, tt.scopes...); got != tt.want {
			t.Errorf("HasScope(%+v, %q) = %v, want %v", tt.claims, tt.scopes, got, tt.want)
		}
	}
}
