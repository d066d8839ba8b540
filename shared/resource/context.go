package resource

import (
	"context"
	"strings"

	"github.com/gatehouse/gatehouse/shared/oauth"
)

type claimsKey struct{}

// ClaimsFrom returns the verified access token claims that Require put in
// the request context, and whether there were any.
func ClaimsFrom(ctx context.Context) (*oauth.AccessTokenClaims, bool) {
	c, ok := ctx.Value(claimsKey{}).(*oauth.AccessTokenClaims)
	return c, ok && c != nil
}

// HasScope reports whether the token's scope claim, a space-delimited list
// (RFC 6749 §3.3, RFC 9068 §2.2.3), grants every one of scopes. A nil
// claims grants nothing; with no scopes a non-nil claims is enough.
func HasScope(claims *oauth.AccessTokenClaims, scopes ...string) bool {
	if claims == nil {
		return false
	}
	granted := strings.Split(claims.Scope, " ")
	for _, s := range scopes {
		if s == "" || !contains(granted, s) {
			return false
		}
	}
	return true
}
