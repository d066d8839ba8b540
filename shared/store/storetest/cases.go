package storetest

import (
	"errors"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/shared/oauth"
)

// racers is how many goroutines race for one single-use record.
const racers = 50

// suite is every case of the conformance suite, by group.
var suite = []group{
	{"Client", []testCase{
		{"NotFound", clientNotFound},
		{"Found", clientFound},
		{"PrivateKeyJWT", clientPrivateKeyJWT},
		{"Copied", clientCopied},
	}},
	{"User", []testCase{
		{"NotFound", userNotFound},
		{"Found", userFound},
	}},
	{"Code", []testCase{
		{"CreateGet", codeCreateGet},
		{"NotFound", codeNotFound},
		{"CreateDuplicate", codeCreateDuplicate},
		{"Redeem", codeRedeem},
		{"RedeemWithoutRefreshToken", codeRedeemWithoutRefreshToken},
		{"RedeemTwice", codeRedeemTwice},
		{"RedeemMissing", codeRedeemMissing},
		{"RedeemExpired", codeRedeemExpired},
		{"RedeemTakenRefreshToken", codeRedeemTakenRefreshToken},
		{"RedeemConcurrently", codeRedeemConcurrently},
		{"RedeemRefusedAfterRevokeGrant", codeRedeemRevokedGrant},
		{"RedeemWithOtherGrant", codeRedeemOtherGrant},
	}},
	{"RefreshToken", []testCase{
		{"CreateGet", refreshCreateGet},
		{"NotFound", refreshNotFound},
		{"OtherGrant", refreshOtherGrant},
		{"CreateDuplicate", refreshCreateDuplicate},
		{"Rotate", refreshRotate},
		{"RotateChain", refreshRotateChain},
		{"RotateTwice", refreshRotateTwice},
		{"RotateMissing", refreshRotateMissing},
		{"RotateExpired", refreshRotateExpired},
		{"RotateIntoOtherGrant", refreshRotateIntoOtherGrant},
		{"RotateTakenNext", refreshRotateTakenNext},
		{"RotateConcurrently", refreshRotateConcurrently},
	}},
	{"Revocation", []testCase{
		{"GetRefreshTokenReportsGrantRevoked", revokeGrantReported},
		{"RotateRefusedAfterRevokeGrant", revokeGrantRefusesRotation},
		{"RevokeGrantInPast", revokeGrantInPast},
		{"RevokeGrantTwice", revokeGrantTwice},
		{"AccessTokenByJTI", revokeAccessTokenByJTI},
		{"AccessTokenByGrant", revokeAccessTokenByGrant},
		{"AccessTokenRevokedTwice", revokeAccessTokenTwice},
	}},
	{"AssertionID", []testCase{
		{"FirstUseThenReplay", assertionIDReplay},
		{"UsableAgainAfterExpiry", assertionIDAfterExpiry},
		{"ExpiredOnArrival", assertionIDExpiredOnArrival},
		{"SameJTIOfTwoClients", assertionIDTwoClients},
		{"TwoJTIsOfOneClient", assertionIDTwoJTIs},
		{"IndependentOfAccessTokenRevocation", assertionIDNotARevocation},
		{"UseConcurrently", assertionIDConcurrently},
	}},
	{"Session", []testCase{
		{"CreateGet", sessionCreateGet},
		{"NotFound", sessionNotFound},
		{"CreateDuplicate", sessionCreateDuplicate},
		{"Delete", sessionDelete},
		{"DeleteMissing", sessionDeleteMissing},
		{"IdleExpired", sessionIdleExpired},
		{"UpdateIdle", sessionUpdateIdle},
		{"UpdateConsent", sessionUpdateConsent},
		{"UpdateConsentWithoutScopes", sessionUpdateConsentNoScopes},
		{"UpdateMissing", sessionUpdateMissing},
		{"UpdateConsentOfDeletedUser", sessionUpdateDeletedUser},
		{"CreateCodeWithChange", sessionCreateCodeWithChange},
		{"CreateCodeWithChangeOfEndedSession", sessionCreateCodeEndedSession},
	}},
	{"LoginAttempts", []testCase{
		{"CountUpToLimit", loginCountUpToLimit},
		{"StopAtFirstCounterAtLimit", loginCountStopsAtLimit},
		{"Uncount", loginUncount},
		{"Clear", loginClear},
		{"Expiry", loginCountExpiry},
		{"ExpiryNotExtended", loginCountExpiryNotExtended},
		{"CountConcurrently", loginCountConcurrently},
		{"CountTwoCountersConcurrently", loginCountTwoConcurrently},
	}},
	{"Expiry", []testCase{
		{"Past", expiryPast},
		{"Future", expiryFuture},
		{"Lapses", expiryLapses},
	}},
}

// Clients and users.

func clientNotFound(e *env) {
	_, err := e.h.Store.GetClient(e.ctx, "client-"+id())
	e.wantErr(err, oauth.ErrNotFound, "GetClient")
}

func clientFound(e *env) {
	public := e.newClient()
	public.SecretHash = ""
	public.TokenEndpointAuthMethod = "none"
	public.Scopes = nil
	public.AccessTokenLifetime = 0
	for _, c := range []*oauth.Client{e.newClient(), public} {
		e.must(e.h.Admin.PutClient(e.ctx, c), "PutClient")
		got, err := e.h.Store.GetClient(e.ctx, c.ID)
		e.must(err, "GetClient")
		e.wantEqual("GetClient", got, c)
	}
}

// clientPrivateKeyJWT: the keys of private_key_jwt clients, inline (jwks)
// or by URL (jwks_uri), come back as stored.
func clientPrivateKeyJWT(e *env) {
	inline := e.newPrivateKeyJWTClient()
	byURI := e.newPrivateKeyJWTClient()
	byURI.JWKS, byURI.JWKSURI = nil, "https://app.example/.well-known/jwks.json?v=2"
	for _, c := range []*oauth.Client{inline, byURI} {
		e.must(e.h.Admin.PutClient(e.ctx, c), "PutClient")
		got, err := e.h.Store.GetClient(e.ctx, c.ID)
		e.must(err, "GetClient")
		e.wantEqual("GetClient", got, c)
	}
}

// clientCopied: neither the client passed to PutClient nor the one
// GetClient returned shares state with the store.
func clientCopied(e *env) {
	c := e.newPrivateKeyJWTClient()
	want := *c
	want.JWKS = c.JWKS.Clone()
	want.Scopes, want.GrantTypes = slices.Clone(c.Scopes), slices.Clone(c.GrantTypes)
	want.PostLogoutRedirectURIs = slices.Clone(c.PostLogoutRedirectURIs)
	e.must(e.h.Admin.PutClient(e.ctx, c), "PutClient")
	c.JWKS.Keys[0].Kid, c.Scopes[0], c.GrantTypes[0], c.PostLogoutRedirectURIs[0] = "changed", "changed", "changed", "changed"
	got, err := e.h.Store.GetClient(e.ctx, c.ID)
	e.must(err, "GetClient")
	e.wantEqual("GetClient after changing the stored client", got, &want)
	got.JWKS.Keys[0].Kid, got.Scopes[0], got.RedirectURIs = "changed", "changed", nil
	again, err := e.h.Store.GetClient(e.ctx, c.ID)
	e.must(err, "GetClient")
	e.wantEqual("GetClient after changing a returned client", again, &want)
}

func userNotFound(e *env) {
	_, err := e.h.Store.GetUser(e.ctx, "user-"+id())
	e.wantErr(err, oauth.ErrNotFound, "GetUser")
}

func userFound(e *env) {
	u := e.newUser()
	e.must(e.h.Admin.PutUser(e.ctx, u), "PutUser")
	got, err := e.h.Store.GetUser(e.ctx, u.Username)
	e.must(err, "GetUser")
	e.wantEqual("GetUser", got, u)
}

// Authorization codes.

func codeCreateGet(e *env) {
	c := e.newCode(e.later())
	e.createCode(c)
	e.wantCode(c)
}

func codeNotFound(e *env) {
	e.wantNoCode(hash())
}

func codeCreateDuplicate(e *env) {
	c := e.newCode(e.later())
	e.createCode(c)
	dup := e.newCode(e.later())
	dup.Hash = c.Hash
	e.wantErr(e.h.Store.CreateCode(e.ctx, dup, nil), oauth.ErrConflict, "second CreateCode")
	e.wantCode(c)
}

func codeRedeem(e *env) {
	c := e.newCode(e.later())
	e.createCode(c)
	first := e.newRefreshToken(c.GrantID, e.later())
	e.must(e.h.Store.RedeemCode(e.ctx, c.Hash, c.GrantID, first), "RedeemCode")
	c.Redeemed = true
	e.wantCode(c)
	e.wantRefreshToken(first, false, false)
}

func codeRedeemWithoutRefreshToken(e *env) {
	c := e.newCode(e.later())
	e.createCode(c)
	e.must(e.h.Store.RedeemCode(e.ctx, c.Hash, c.GrantID, nil), "RedeemCode")
	c.Redeemed = true
	e.wantCode(c)
}

func codeRedeemTwice(e *env) {
	c := e.newCode(e.later())
	e.createCode(c)
	first := e.newRefreshToken(c.GrantID, e.later())
	e.must(e.h.Store.RedeemCode(e.ctx, c.Hash, c.GrantID, first), "first RedeemCode")
	second := e.newRefreshToken(c.GrantID, e.later())
	e.wantErr(e.h.Store.RedeemCode(e.ctx, c.Hash, c.GrantID, second), oauth.ErrConflict, "second RedeemCode")
	e.wantErr(e.h.Store.RedeemCode(e.ctx, c.Hash, c.GrantID, nil), oauth.ErrConflict, "third RedeemCode, no token")
	e.wantNoRefreshToken(second.GrantID, second.Hash)
	e.wantRefreshToken(first, false, false)
}

// codeRedeemRevokedGrant: a code whose grant was revoked (a failed
// exchange that may have landed) can no longer be redeemed.
func codeRedeemRevokedGrant(e *env) {
	c := e.newCode(e.later())
	e.createCode(c)
	e.must(e.h.Store.RevokeGrant(e.ctx, c.GrantID, e.later()), "RevokeGrant")
	first := e.newRefreshToken(c.GrantID, e.later())
	e.wantErr(e.h.Store.RedeemCode(e.ctx, c.Hash, c.GrantID, first), oauth.ErrConflict, "RedeemCode with token")
	e.wantErr(e.h.Store.RedeemCode(e.ctx, c.Hash, c.GrantID, nil), oauth.ErrConflict, "RedeemCode without token")
	e.wantNoRefreshToken(first.GrantID, first.Hash)
	e.wantCode(c)
}

// codeRedeemOtherGrant: RedeemCode names the code's grant; another grant
// id is ErrNotFound and writes nothing.
func codeRedeemOtherGrant(e *env) {
	c := e.newCode(e.later())
	e.createCode(c)
	e.wantErr(e.h.Store.RedeemCode(e.ctx, c.Hash, hash(), nil), oauth.ErrNotFound, "RedeemCode")
	e.wantCode(c)
}

func codeRedeemMissing(e *env) {
	first := e.newRefreshToken(id(), e.later())
	e.wantErr(e.h.Store.RedeemCode(e.ctx, hash(), first.GrantID, first), oauth.ErrNotFound, "RedeemCode")
	e.wantNoRefreshToken(first.GrantID, first.Hash)
}

func codeRedeemExpired(e *env) {
	c := e.newCode(e.earlier())
	e.createCode(c)
	first := e.newRefreshToken(c.GrantID, e.later())
	e.wantErr(e.h.Store.RedeemCode(e.ctx, c.Hash, c.GrantID, first), oauth.ErrNotFound, "RedeemCode")
	e.wantNoRefreshToken(first.GrantID, first.Hash)
}

// codeRedeemTakenRefreshToken: a first token whose hash is taken fails the
// whole redemption, leaving the code redeemable and the token untouched.
func codeRedeemTakenRefreshToken(e *env) {
	c := e.newCode(e.later())
	e.createCode(c)
	taken := e.newRefreshToken(c.GrantID, e.later())
	e.createRefreshToken(taken)
	first := e.newRefreshToken(c.GrantID, e.later())
	first.Hash = taken.Hash
	e.wantErr(e.h.Store.RedeemCode(e.ctx, c.Hash, c.GrantID, first), oauth.ErrConflict, "RedeemCode")
	e.wantCode(c)
	e.wantRefreshToken(taken, false, false)
}

func codeRedeemConcurrently(e *env) {
	c := e.newCode(e.later())
	e.createCode(c)
	firsts := make([]*oauth.RefreshToken, racers)
	for i := range firsts {
		firsts[i] = e.newRefreshToken(c.GrantID, e.later())
	}
	errs := concurrently(racers, func(i int) error {
		return e.h.Store.RedeemCode(e.ctx, c.Hash, c.GrantID, firsts[i])
	})
	winner := e.oneWinner(errs, "RedeemCode")
	c.Redeemed = true
	e.wantCode(c)
	for i, t := range firsts {
		if i == winner {
			e.wantRefreshToken(t, false, false)
		} else {
			e.wantNoRefreshToken(t.GrantID, t.Hash)
		}
	}
}

// Refresh tokens.

func refreshCreateGet(e *env) {
	t := e.newRefreshToken(id(), e.later())
	e.createRefreshToken(t)
	e.wantRefreshToken(t, false, false)
}

func refreshNotFound(e *env) {
	e.wantNoRefreshToken(id(), hash())
}

func refreshOtherGrant(e *env) {
	t := e.newRefreshToken(id(), e.later())
	e.createRefreshToken(t)
	e.wantNoRefreshToken(id(), t.Hash)
}

func refreshCreateDuplicate(e *env) {
	t := e.newRefreshToken(id(), e.later())
	e.createRefreshToken(t)
	dup := e.newRefreshToken(t.GrantID, e.later())
	dup.Hash = t.Hash
	e.wantErr(e.h.Store.CreateRefreshToken(e.ctx, dup), oauth.ErrConflict, "second CreateRefreshToken")
	e.wantRefreshToken(t, false, false)
}

func refreshRotate(e *env) {
	old := e.newRefreshToken(id(), e.later())
	e.createRefreshToken(old)
	next := e.nextToken(old)
	e.must(e.h.Store.RotateRefreshToken(e.ctx, old.Hash, next), "RotateRefreshToken")
	e.wantRefreshToken(old, true, false)
	e.wantRefreshToken(next, false, false)
}

func refreshRotateChain(e *env) {
	t := e.newRefreshToken(id(), e.later())
	e.createRefreshToken(t)
	chain := []*oauth.RefreshToken{t}
	for range 3 {
		next := e.nextToken(t)
		e.must(e.h.Store.RotateRefreshToken(e.ctx, t.Hash, next), "RotateRefreshToken")
		chain, t = append(chain, next), next
	}
	for i, t := range chain {
		e.wantRefreshToken(t, i < len(chain)-1, false)
	}
}

func refreshRotateTwice(e *env) {
	old := e.newRefreshToken(id(), e.later())
	e.createRefreshToken(old)
	next := e.nextToken(old)
	e.must(e.h.Store.RotateRefreshToken(e.ctx, old.Hash, next), "first RotateRefreshToken")
	again := e.nextToken(old)
	e.wantErr(e.h.Store.RotateRefreshToken(e.ctx, old.Hash, again), oauth.ErrConflict, "second RotateRefreshToken")
	e.wantNoRefreshToken(again.GrantID, again.Hash)
	e.wantRefreshToken(next, false, false)
}

func refreshRotateMissing(e *env) {
	next := e.newRefreshToken(id(), e.later())
	e.wantErr(e.h.Store.RotateRefreshToken(e.ctx, hash(), next), oauth.ErrNotFound, "RotateRefreshToken")
	e.wantNoRefreshToken(next.GrantID, next.Hash)
}

func refreshRotateExpired(e *env) {
	old := e.newRefreshToken(id(), e.earlier())
	e.createRefreshToken(old)
	next := e.nextToken(old)
	next.ExpiresAt = e.later()
	e.wantErr(e.h.Store.RotateRefreshToken(e.ctx, old.Hash, next), oauth.ErrNotFound, "RotateRefreshToken")
	e.wantNoRefreshToken(next.GrantID, next.Hash)
}

// refreshRotateIntoOtherGrant: rotation stays within a grant. A store may
// answer ErrNotFound (it looked for oldHash in next's grant) or ErrConflict,
// but must write nothing.
func refreshRotateIntoOtherGrant(e *env) {
	old := e.newRefreshToken(id(), e.later())
	e.createRefreshToken(old)
	next := e.nextToken(old)
	next.GrantID = id()
	err := e.h.Store.RotateRefreshToken(e.ctx, old.Hash, next)
	if !errors.Is(err, oauth.ErrNotFound) && !errors.Is(err, oauth.ErrConflict) {
		e.Fatalf("RotateRefreshToken into another grant: error %v, want %v or %v",
			err, oauth.ErrNotFound, oauth.ErrConflict)
	}
	e.wantRefreshToken(old, false, false)
	e.wantNoRefreshToken(next.GrantID, next.Hash)
}

// refreshRotateTakenNext: a next token whose hash is taken fails the whole
// rotation, leaving the old token unrotated.
func refreshRotateTakenNext(e *env) {
	old := e.newRefreshToken(id(), e.later())
	e.createRefreshToken(old)
	taken := e.nextToken(old)
	e.createRefreshToken(taken)
	next := e.nextToken(old)
	next.Hash = taken.Hash
	next.ClientID = "client-" + id()
	e.wantErr(e.h.Store.RotateRefreshToken(e.ctx, old.Hash, next), oauth.ErrConflict, "RotateRefreshToken")
	e.wantRefreshToken(old, false, false)
	e.wantRefreshToken(taken, false, false)
}

func refreshRotateConcurrently(e *env) {
	old := e.newRefreshToken(id(), e.later())
	e.createRefreshToken(old)
	nexts := make([]*oauth.RefreshToken, racers)
	for i := range nexts {
		nexts[i] = e.nextToken(old)
	}
	errs := concurrently(racers, func(i int) error {
		return e.h.Store.RotateRefreshToken(e.ctx, old.Hash, nexts[i])
	})
	winner := e.oneWinner(errs, "RotateRefreshToken")
	e.wantRefreshToken(old, true, false)
	for i, t := range nexts {
		if i == winner {
			e.wantRefreshToken(t, false, false)
		} else {
			e.wantNoRefreshToken(t.GrantID, t.Hash)
		}
	}
}

// Revocation.

// revokeGrantReported: every token of a revoked grant, rotated or not,
// reports GrantRevoked; other grants are untouched.
func revokeGrantReported(e *env) {
	old := e.newRefreshToken(id(), e.later())
	e.createRefreshToken(old)
	next := e.nextToken(old)
	e.must(e.h.Store.RotateRefreshToken(e.ctx, old.Hash, next), "RotateRefreshToken")
	other := e.newRefreshToken(id(), e.later())
	e.createRefreshToken(other)

	e.revokeGrant(old.GrantID, e.later())
	e.wantRefreshToken(old, true, true)
	e.wantRefreshToken(next, false, true)
	e.wantRefreshToken(other, false, false)
}

func revokeGrantRefusesRotation(e *env) {
	old := e.newRefreshToken(id(), e.later())
	e.createRefreshToken(old)
	e.revokeGrant(old.GrantID, e.later())
	next := e.nextToken(old)
	e.wantErr(e.h.Store.RotateRefreshToken(e.ctx, old.Hash, next), oauth.ErrConflict, "RotateRefreshToken")
	e.wantRefreshToken(old, false, true)
	e.wantNoRefreshToken(next.GrantID, next.Hash)
}

// revokeGrantInPast: a revocation kept until a time already past has no
// effect.
func revokeGrantInPast(e *env) {
	old := e.newRefreshToken(id(), e.later())
	e.createRefreshToken(old)
	e.revokeGrant(old.GrantID, e.earlier())
	e.wantRefreshToken(old, false, false)
	e.wantRevoked(id(), old.GrantID, false)
	next := e.nextToken(old)
	e.must(e.h.Store.RotateRefreshToken(e.ctx, old.Hash, next), "RotateRefreshToken")
	e.wantRefreshToken(next, false, false)
}

func revokeGrantTwice(e *env) {
	t := e.newRefreshToken(id(), e.later())
	e.createRefreshToken(t)
	e.revokeGrant(t.GrantID, e.later())
	e.revokeGrant(t.GrantID, e.later().Add(time.Hour))
	e.wantRefreshToken(t, false, true)
	e.wantRevoked(id(), t.GrantID, true)
}

func revokeAccessTokenByJTI(e *env) {
	jti, grantID := id(), id()
	e.wantRevoked(jti, "", false)
	e.wantRevoked(jti, grantID, false)
	e.revokeAccessToken(jti, e.later())
	e.wantRevoked(jti, "", true)
	e.wantRevoked(jti, grantID, true)
	e.wantRevoked(id(), "", false)
	e.wantRevoked(id(), grantID, false)
}

func revokeAccessTokenByGrant(e *env) {
	jti, grantID := id(), id()
	e.revokeGrant(grantID, e.later())
	e.wantRevoked(jti, grantID, true)
	e.wantRevoked(id(), grantID, true)
	e.wantRevoked(jti, "", false)
	e.wantRevoked(jti, id(), false)
}

func revokeAccessTokenTwice(e *env) {
	jti := id()
	e.revokeAccessToken(jti, e.later())
	e.revokeAccessToken(jti, e.later().Add(time.Hour))
	e.wantRevoked(jti, "", true)
}

// Client assertion ids (private_key_jwt replay protection).

func (e *env) useAssertionID(clientID, jti string, exp time.Time) error {
	return e.h.Store.UseAssertionID(e.ctx, clientID, jti, exp)
}

func assertionIDReplay(e *env) {
	client, jti := "client-"+id(), id()
	e.must(e.useAssertionID(client, jti, e.later()), "first UseAssertionID")
	e.wantErr(e.useAssertionID(client, jti, e.later()), oauth.ErrConflict, "second UseAssertionID")
	e.wantErr(e.useAssertionID(client, jti, e.later().Add(time.Hour)), oauth.ErrConflict, "third UseAssertionID")
}

// assertionIDAfterExpiry: once its record has expired, an id may be used
// again (the assertion itself has expired by then: the library keeps the
// record past its exp).
func assertionIDAfterExpiry(e *env) {
	client, jti := "client-"+id(), id()
	exp := e.now().Add(2 * time.Second)
	e.must(e.useAssertionID(client, jti, exp), "first UseAssertionID")
	e.wantErr(e.useAssertionID(client, jti, e.later()), oauth.ErrConflict, "UseAssertionID before expiry")
	e.waitUntil(exp)
	e.must(e.useAssertionID(client, jti, e.later()), "UseAssertionID after expiry")
	e.wantErr(e.useAssertionID(client, jti, e.later()), oauth.ErrConflict, "UseAssertionID after the new use")
}

func assertionIDExpiredOnArrival(e *env) {
	client, jti := "client-"+id(), id()
	e.must(e.useAssertionID(client, jti, e.earlier()), "first UseAssertionID")
	e.must(e.useAssertionID(client, jti, e.later()), "UseAssertionID after an expired record")
}

func assertionIDTwoClients(e *env) {
	a, b, jti := "client-"+id(), "client-"+id(), id()
	e.must(e.useAssertionID(a, jti, e.later()), "UseAssertionID by client a")
	e.must(e.useAssertionID(b, jti, e.later()), "UseAssertionID of the same jti by client b")
	e.wantErr(e.useAssertionID(a, jti, e.later()), oauth.ErrConflict, "replay by client a")
	e.wantErr(e.useAssertionID(b, jti, e.later()), oauth.ErrConflict, "replay by client b")
}

func assertionIDTwoJTIs(e *env) {
	client := "client-" + id()
	e.must(e.useAssertionID(client, id(), e.later()), "UseAssertionID of one jti")
	e.must(e.useAssertionID(client, id(), e.later()), "UseAssertionID of another jti")
}

// assertionIDNotARevocation: assertion ids and revoked access-token ids
// are separate namespaces.
func assertionIDNotARevocation(e *env) {
	client, jti := "client-"+id(), id()
	e.revokeAccessToken(jti, e.later())
	e.must(e.useAssertionID(client, jti, e.later()), "UseAssertionID of a revoked access token's jti")
	other := id()
	e.must(e.useAssertionID(client, other, e.later()), "UseAssertionID")
	e.wantRevoked(other, "", false)
}

func assertionIDConcurrently(e *env) {
	client, jti := "client-"+id(), id()
	errs := concurrently(racers, func(int) error { return e.useAssertionID(client, jti, e.later()) })
	e.oneWinner(errs, "UseAssertionID")
}

// Sessions.

func sessionCreateGet(e *env) {
	s := e.newSession(e.later())
	e.createSession(s)
	e.wantSession(s)
}

func sessionNotFound(e *env) {
	e.wantNoSession(hash())
}

func sessionCreateDuplicate(e *env) {
	s := e.newSession(e.later())
	e.createSession(s)
	dup := e.newSession(e.later())
	dup.Hash = s.Hash
	e.wantErr(e.h.Store.CreateSession(e.ctx, dup), oauth.ErrConflict, "second CreateSession")
	e.wantSession(s)
}

func sessionDelete(e *env) {
	s, other := e.newSession(e.later()), e.newSession(e.later())
	e.createSession(s)
	e.createSession(other)
	e.must(e.h.Store.DeleteSession(e.ctx, s.Hash), "DeleteSession")
	e.wantNoSession(s.Hash)
	e.wantSession(other)
}

// sessionDeleteMissing: signing out twice is not an error.
func sessionDeleteMissing(e *env) {
	e.must(e.h.Store.DeleteSession(e.ctx, hash()), "DeleteSession")
}

// sessionIdleExpired: a session past its idle expiry is gone, though its
// absolute lifetime is not over.
func sessionIdleExpired(e *env) {
	s := e.newSession(e.earlier())
	s.ExpiresAt = e.later()
	e.createSession(s)
	e.wantNoSession(s.Hash)
}

// sessionUser stores a user and a live session of theirs.
func (e *env) sessionUser() (*oauth.User, *oauth.Session) {
	u := e.newUser()
	e.must(e.h.Admin.PutUser(e.ctx, u), "PutUser")
	s := e.newSession(e.later())
	s.Subject, s.Username, s.Consents = u.Subject, u.Username, nil
	e.createSession(s)
	return u, s
}

// wantUser fails unless the stored user equals want.
func (e *env) wantUser(want *oauth.User) {
	e.Helper()
	got, err := e.h.Store.GetUser(e.ctx, want.Username)
	e.must(err, "GetUser")
	e.wantEqual("GetUser", got, want)
}

func sessionUpdateIdle(e *env) {
	u, s := e.sessionUser()
	s.IdleExpiresAt = s.IdleExpiresAt.Add(30 * time.Minute)
	e.must(e.h.Store.UpdateSession(e.ctx, &oauth.SessionChange{Hash: s.Hash, Username: u.Username, IdleExpiresAt: s.IdleExpiresAt}), "UpdateSession")
	e.wantSession(s)
	e.wantUser(u)
}

// sessionUpdateConsent: a consent is added to the session's and the
// user's, merged with the scopes allowed before; the idle expiry is left
// alone when the change has none.
func sessionUpdateConsent(e *env) {
	u, s := e.sessionUser()
	client := "client-" + id()
	change := &oauth.SessionChange{Hash: s.Hash, Username: u.Username, ConsentClientID: client, ConsentScopes: []string{"read", "profile"}}
	e.must(e.h.Store.UpdateSession(e.ctx, change), "UpdateSession")
	change.ConsentScopes = []string{"write", "read"}
	e.must(e.h.Store.UpdateSession(e.ctx, change), "UpdateSession again")
	s.Consents = map[string][]string{client: {"profile", "read", "write"}}
	u.Consents[client] = []string{"profile", "read", "write"}
	e.wantSession(s)
	e.wantUser(u)
}

// sessionUpdateConsentNoScopes: consent to a request without scopes is
// remembered too (an empty list, not a missing client).
func sessionUpdateConsentNoScopes(e *env) {
	u, s := e.sessionUser()
	client := "client-" + id()
	e.must(e.h.Store.UpdateSession(e.ctx, &oauth.SessionChange{Hash: s.Hash, Username: u.Username, ConsentClientID: client}), "UpdateSession")
	s.Consents = map[string][]string{client: {}}
	u.Consents[client] = []string{}
	e.wantSession(s)
	e.wantUser(u)
}

// sessionUpdateMissing: a change of a missing or ended session is
// ErrNotFound and records no consent.
func sessionUpdateMissing(e *env) {
	u, s := e.sessionUser()
	e.must(e.h.Store.DeleteSession(e.ctx, s.Hash), "DeleteSession")
	for _, hash := range []string{s.Hash, hash()} {
		err := e.h.Store.UpdateSession(e.ctx, &oauth.SessionChange{Hash: hash, Username: u.Username,
			IdleExpiresAt: e.later(), ConsentClientID: "client-" + id(), ConsentScopes: []string{"read"}})
		e.wantErr(err, oauth.ErrNotFound, "UpdateSession")
	}
	e.wantUser(u)
}

// sessionUpdateDeletedUser: a consent cannot be recorded for a user
// deleted since signing in: ErrNotFound, and the session is unchanged.
func sessionUpdateDeletedUser(e *env) {
	u, s := e.sessionUser()
	e.must(e.h.Admin.DeleteUser(e.ctx, u.Username), "DeleteUser")
	err := e.h.Store.UpdateSession(e.ctx, &oauth.SessionChange{Hash: s.Hash, Username: u.Username,
		ConsentClientID: "client-" + id(), ConsentScopes: []string{"read"}})
	e.wantErr(err, oauth.ErrNotFound, "UpdateSession")
	e.wantSession(s)
}

func sessionCreateCodeWithChange(e *env) {
	u, s := e.sessionUser()
	c := e.newCode(e.later())
	s.IdleExpiresAt = s.IdleExpiresAt.Add(time.Minute)
	change := &oauth.SessionChange{Hash: s.Hash, Username: u.Username, IdleExpiresAt: s.IdleExpiresAt,
		ConsentClientID: c.ClientID, ConsentScopes: c.Scopes}
	e.must(e.h.Store.CreateCode(e.ctx, c, change), "CreateCode")
	e.wantCode(c)
	s.Consents = map[string][]string{c.ClientID: c.Scopes}
	u.Consents[c.ClientID] = c.Scopes
	e.wantSession(s)
	e.wantUser(u)
}

// sessionCreateCodeEndedSession: a code whose session change fails (the
// user signed out meanwhile) is not written.
func sessionCreateCodeEndedSession(e *env) {
	u, s := e.sessionUser()
	e.must(e.h.Store.DeleteSession(e.ctx, s.Hash), "DeleteSession")
	c := e.newCode(e.later())
	err := e.h.Store.CreateCode(e.ctx, c, &oauth.SessionChange{Hash: s.Hash, Username: u.Username,
		ConsentClientID: c.ClientID, ConsentScopes: c.Scopes})
	e.wantErr(err, oauth.ErrNotFound, "CreateCode")
	e.wantNoCode(c.Hash)
	e.wantUser(u)
}

// Failed-login counters.

// count counts an attempt against counters, expiring at exp.
func (e *env) count(exp time.Time, counters ...oauth.LoginCounter) bool {
	e.Helper()
	ok, err := e.h.Store.CountLoginAttempt(e.ctx, exp, counters...)
	e.must(err, "CountLoginAttempt")
	return ok
}

func limit(key string, n int) oauth.LoginCounter { return oauth.LoginCounter{Key: key, Limit: n} }

// wantCount fails unless key's live count is n, found through the store's
// own operations: an attempt at limit n is refused (the count is at least
// n), one at limit n+1 is counted (it was below n+1), and is taken back.
func (e *env) wantCount(key string, n int) {
	e.Helper()
	if e.count(e.later(), limit(key, n)) {
		e.Fatalf("CountLoginAttempt at limit %d: counted, so the count was below %d", n, n)
	}
	if !e.count(e.later(), limit(key, n+1)) {
		e.Fatalf("CountLoginAttempt at limit %d: refused, so the count was over %d", n+1, n)
	}
	e.must(e.h.Store.UncountLoginAttempt(e.ctx, key), "UncountLoginAttempt")
}

// loginCountUpToLimit: attempts are counted up to the limit, then refused;
// a refused attempt does not count.
func loginCountUpToLimit(e *env) {
	a := "login#" + id()
	for i := range 3 {
		if !e.count(e.later(), limit(a, 3)) {
			e.Fatalf("attempt %d at limit 3 refused", i+1)
		}
	}
	for i := range 5 {
		if e.count(e.later(), limit(a, 3)) {
			e.Fatalf("attempt %d over limit 3 counted", 4+i)
		}
	}
	e.wantCount(a, 3)
	e.wantCount("login#"+id(), 0)
}

// loginCountStopsAtLimit: counters are counted in order; the first at its
// limit stops the attempt, and it and the ones after it stay as they were;
// the ones before it keep the attempt.
func loginCountStopsAtLimit(e *env) {
	a, b := "login#"+id(), "login#"+id()
	for range 2 {
		if !e.count(e.later(), limit(a, 2), limit(b, 5)) {
			e.Fatal("attempt under both limits refused")
		}
	}
	if e.count(e.later(), limit(a, 2), limit(b, 5)) {
		e.Fatal("attempt with a at its limit counted")
	}
	e.wantCount(b, 2) // untouched: a stopped the attempt
	if e.count(e.later(), limit(b, 5), limit(a, 2)) {
		e.Fatal("attempt with a at its limit counted")
	}
	e.wantCount(b, 3) // counted before a stopped the attempt
	e.wantCount(a, 2)
	if e.count(e.later(), limit(b, 0), limit(a, 10)) {
		e.Fatal("a limit of 0 counted an attempt")
	}
	e.wantCount(a, 2)
}

// loginUncount: an attempt taken back no longer counts; a missing or zero
// counter stays at zero.
func loginUncount(e *env) {
	a, missing := "login#"+id(), "login#"+id()
	for range 3 {
		e.count(e.later(), limit(a, 10))
	}
	e.must(e.h.Store.UncountLoginAttempt(e.ctx, a, missing), "UncountLoginAttempt")
	e.wantCount(a, 2)
	e.wantCount(missing, 0)
	for range 3 {
		e.must(e.h.Store.UncountLoginAttempt(e.ctx, a), "UncountLoginAttempt")
	}
	e.wantCount(a, 0)
	e.must(e.h.Store.UncountLoginAttempt(e.ctx), "UncountLoginAttempt of no key")
}

func loginClear(e *env) {
	a, b := "login#"+id(), "login#"+id()
	e.count(e.later(), limit(a, 5), limit(b, 5))
	e.must(e.h.Store.ClearLoginFailures(e.ctx, a), "ClearLoginFailures")
	e.must(e.h.Store.ClearLoginFailures(e.ctx, "login#"+id()), "ClearLoginFailures of a missing counter")
	e.wantCount(a, 0)
	e.wantCount(b, 1)
}

// loginCountExpiry: an expired counter counts 0, even one at its limit,
// and the next attempt starts it again at 1 with the new expiry.
func loginCountExpiry(e *env) {
	a := "login#" + id()
	soon := e.now().Add(2 * time.Second)
	e.count(soon, limit(a, 2))
	e.count(soon, limit(a, 2))
	if e.count(soon, limit(a, 2)) {
		e.Fatal("attempt over the limit counted")
	}
	e.waitUntil(soon)
	e.must(e.h.Store.UncountLoginAttempt(e.ctx, a), "UncountLoginAttempt of an expired counter")
	if !e.count(e.later(), limit(a, 2)) {
		e.Fatal("attempt on an expired counter at its limit refused")
	}
	e.wantCount(a, 1)
}

// loginCountExpiryNotExtended: a counter expires when its first attempt
// said, whatever later attempts say.
func loginCountExpiryNotExtended(e *env) {
	a := "login#" + id()
	soon := e.now().Add(2 * time.Second)
	e.count(soon, limit(a, 2))
	e.count(e.later(), limit(a, 2))
	e.count(e.later(), limit(a, 2)) // refused
	e.waitUntil(soon)
	e.wantCount(a, 0)
}

// loginCountConcurrently: attempts racing for one counter are counted
// exactly up to its limit.
func loginCountConcurrently(e *env) {
	const limitN = 5
	a := "login#" + id()
	var counted atomic.Int64
	for _, err := range concurrently(racers, func(int) error {
		ok, err := e.h.Store.CountLoginAttempt(e.ctx, e.later(), limit(a, limitN))
		if ok {
			counted.Add(1)
		}
		return err
	}) {
		e.must(err, "CountLoginAttempt")
	}
	if counted.Load() != limitN {
		e.Fatalf("%d racing attempts at limit %d: %d counted", racers, limitN, counted.Load())
	}
	e.wantCount(a, limitN)
}

// loginCountTwoConcurrently: racing attempts, each against a shared
// counter (an address) and its own (a username), count exactly up to the
// shared limit; the refused ones leave their own counters untouched.
func loginCountTwoConcurrently(e *env) {
	const limitN = 10
	shared := "login#" + id()
	own := make([]string, racers)
	counted := make([]bool, racers)
	for i := range own {
		own[i] = "login#" + id()
	}
	for _, err := range concurrently(racers, func(i int) error {
		ok, err := e.h.Store.CountLoginAttempt(e.ctx, e.later(), limit(shared, limitN), limit(own[i], 5))
		counted[i] = ok
		return err
	}) {
		e.must(err, "CountLoginAttempt")
	}
	n := 0
	for i, ok := range counted {
		if ok {
			n++
			e.wantCount(own[i], 1)
		} else {
			e.wantCount(own[i], 0)
		}
	}
	if n != limitN {
		e.Fatalf("%d racing attempts at a shared limit of %d: %d counted", racers, limitN, n)
	}
	e.wantCount(shared, limitN)
}

// Expiry: every kind of expiring record is visible before its expiry time
// and invisible after it, however late the database deletes it.

// expiring is a kind of record with an expiry time.
type expiring struct {
	name string
	// put stores a record of this kind expiring at exp and returns a
	// check that reports whether the store still shows it.
	put func(e *env, exp time.Time) (visible func() bool)
}

var expiringKinds = []expiring{
	{"Code", func(e *env, exp time.Time) func() bool {
		c := e.newCode(exp)
		e.createCode(c)
		return func() bool {
			_, err := e.h.Store.GetCode(e.ctx, c.Hash)
			return e.found(err, "GetCode")
		}
	}},
	{"RefreshToken", func(e *env, exp time.Time) func() bool {
		t := e.newRefreshToken(id(), exp)
		e.createRefreshToken(t)
		return func() bool {
			_, err := e.h.Store.GetRefreshToken(e.ctx, t.GrantID, t.Hash)
			return e.found(err, "GetRefreshToken")
		}
	}},
	{"Session", func(e *env, exp time.Time) func() bool {
		s := e.newSession(exp)
		e.createSession(s)
		return func() bool {
			_, err := e.h.Store.GetSession(e.ctx, s.Hash)
			return e.found(err, "GetSession")
		}
	}},
	{"AccessTokenRevocation", func(e *env, exp time.Time) func() bool {
		jti := id()
		e.revokeAccessToken(jti, exp)
		return func() bool {
			revoked, err := e.h.Store.AccessTokenRevoked(e.ctx, jti, "")
			e.must(err, "AccessTokenRevoked")
			return revoked
		}
	}},
	{"GrantRevocationOfAccessToken", func(e *env, exp time.Time) func() bool {
		grantID := id()
		e.revokeGrant(grantID, exp)
		return func() bool {
			revoked, err := e.h.Store.AccessTokenRevoked(e.ctx, id(), grantID)
			e.must(err, "AccessTokenRevoked")
			return revoked
		}
	}},
	{"GrantRevocationOfRefreshToken", func(e *env, exp time.Time) func() bool {
		t := e.newRefreshToken(id(), e.later())
		e.createRefreshToken(t)
		e.revokeGrant(t.GrantID, exp)
		return func() bool {
			got, err := e.h.Store.GetRefreshToken(e.ctx, t.GrantID, t.Hash)
			e.must(err, "GetRefreshToken")
			return got.GrantRevoked
		}
	}},
}

func expiryPast(e *env) {
	for _, k := range expiringKinds {
		e.Run(k.name, func(t *testing.T) {
			e := e.sub(t)
			if k.put(e, e.earlier())() {
				e.Error("record visible after its expiry")
			}
		})
	}
}

func expiryFuture(e *env) {
	for _, k := range expiringKinds {
		e.Run(k.name, func(t *testing.T) {
			e := e.sub(t)
			if !k.put(e, e.later())() {
				e.Error("record invisible before its expiry")
			}
		})
	}
}

// expiryLapses stores records of every kind two seconds from expiry (two, so
// a store keeping whole seconds still sees them alive), waits once, and
// checks that they are gone.
func expiryLapses(e *env) {
	exp := e.now().Add(2 * time.Second)
	visible := make([]func() bool, len(expiringKinds))
	for i, k := range expiringKinds {
		visible[i] = k.put(e, exp)
		if !visible[i]() {
			e.Fatalf("%s: record invisible before its expiry", k.name)
		}
	}
	e.waitUntil(exp)
	for i, k := range expiringKinds {
		if visible[i]() {
			e.Errorf("%s: record visible after its expiry", k.name)
		}
	}
}
