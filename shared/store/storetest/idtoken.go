package storetest

import (
	"strings"
	"time"
)

// The cases of what ID tokens need from the store (OpenID Connect Core
// §2, §12.2): a code keeps the authorization request's nonce and the
// sign-in's time, and a refresh token keeps that time through its first
// write and every rotation, so a refreshed ID token repeats the original
// auth_time. A group of their own, so the suite's list stays as it was.
func init() {
	suite = append(suite, group{"IDToken", []testCase{
		{"CodeKeepsNonceAndAuthTime", codeKeepsNonceAndAuthTime},
		{"CodeWithoutNonce", codeWithoutNonce},
		{"RefreshTokenKeepsAuthTime", refreshTokenKeepsAuthTime},
		{"RefreshTokenWithoutAuthTime", refreshTokenWithoutAuthTime},
	}})
}

// codeKeepsNonceAndAuthTime: a code's nonce (any printable text, long or
// not) and auth time come back from GetCode, before and after redemption.
func codeKeepsNonceAndAuthTime(e *env) {
	c := e.newCode(e.later())
	c.Nonce = "n-0S6_WzA2Mj " + strings.Repeat("ü€", 200)
	c.AuthTime = e.now().Add(-3 * time.Hour).Truncate(time.Second)
	e.createCode(c)
	e.wantCode(c)
	e.must(e.h.Store.RedeemCode(e.ctx, c.Hash, c.GrantID, nil), "RedeemCode")
	c.Redeemed = true
	e.wantCode(c)
}

// codeWithoutNonce: a code without a nonce reads back with none.
func codeWithoutNonce(e *env) {
	c := e.newCode(e.later())
	c.Nonce = ""
	e.createCode(c)
	e.wantCode(c)
}

// refreshTokenKeepsAuthTime: the first refresh token, stored by
// RedeemCode or CreateRefreshToken, and each rotation's next token keep
// their auth time.
func refreshTokenKeepsAuthTime(e *env) {
	authTime := e.now().Add(-26 * time.Hour).Truncate(time.Second)
	c := e.newCode(e.later())
	c.AuthTime = authTime
	e.createCode(c)
	first := e.newRefreshToken(c.GrantID, e.later())
	first.AuthTime = authTime
	e.must(e.h.Store.RedeemCode(e.ctx, c.Hash, c.GrantID, first), "RedeemCode")
	e.wantRefreshToken(first, false, false)

	next := e.nextToken(first)
	e.must(e.h.Store.RotateRefreshToken(e.ctx, first.Hash, next), "RotateRefreshToken")
	e.wantRefreshToken(next, false, false)
	e.wantRefreshToken(first, true, false)

	other := e.newRefreshToken(id(), e.later())
	other.AuthTime = authTime.Add(time.Minute)
	e.createRefreshToken(other)
	e.wantRefreshToken(other, false, false)
}

// refreshTokenWithoutAuthTime: a token with no auth time (the password
// grant's) reads back with the zero time, so no ID token claims one.
func refreshTokenWithoutAuthTime(e *env) {
	t := e.newRefreshToken(id(), e.later())
	t.AuthTime = time.Time{}
	e.createRefreshToken(t)
	got, err := e.h.Store.GetRefreshToken(e.ctx, t.GrantID, t.Hash)
	e.must(err, "GetRefreshToken")
	if !got.AuthTime.IsZero() {
		e.Fatalf("GetRefreshToken: AuthTime = %v, want the zero time", got.AuthTime)
	}
}
