package httpapi_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/shared/oauth"
)

// TestPrivateKeyJWTOnDynamoDB runs private_key_jwt on dynamostore (DynamoDB
// Local) behind the client cache, as in a warm Lambda: a request costs one
// DynamoDB write more than with a secret, the conditional PutItem of the
// jti_asrt# marker that makes the assertion single-use; a refused
// assertion costs none unless it was genuine (a replay); a throttled
// marker write is a 503 the client may retry with the same assertion; a
// write whose response was lost and retried is no replay.
func TestPrivateKeyJWTOnDynamoDB(t *testing.T) {
	host := newKeyHost(t, jwkSet(t, uriRSA(), uriEC()))
	ds := newDynamoServer(t, withFetcher)
	registerPKClients(t, ds.Backing, host.uri())
	for _, id := range []string{pkInlineID, pkURIID} { // warm the client cache and the key cache
		k := inlineRSA()
		if id == pkURIID {
			k = uriRSA()
		}
		mustOK(t, "warm-up", ds.ccAssert(k.assert(t, ds.claimsFor(id))))
	}
	marker := []string{"PutItem tokens"}

	ops := func(what string, want []string, status int, do func() response) response {
		t.Helper()
		resp, tr := ds.traced(nil, do)
		if resp.Status != status {
			t.Fatalf("%s: status %d, want %d: %s", what, resp.Status, status, resp.Body)
		}
		if got := tr.Ops(); !slices.Equal(got, want) {
			t.Errorf("%s: DynamoDB operations [%s], want [%s]", what, strings.Join(got, ", "), strings.Join(want, ", "))
		}
		return resp
	}

	a := inlineRSA().assert(t, ds.claimsFor(pkInlineID))
	tok := str(ops("client_credentials, inline keys", marker, http.StatusOK,
		func() response { return ds.ccAssert(a) }).JSON(t), "access_token")
	ops("client_credentials, jwks_uri", marker, http.StatusOK,
		func() response { return ds.ccAssert(uriEC().assert(t, ds.claimsFor(pkURIID))) })
	ops("replayed assertion", marker, http.StatusUnauthorized, func() response { return ds.ccAssert(a) })
	ops("introspection of a client_credentials token", append(slices.Clone(marker), "GetItem tokens"), http.StatusOK,
		func() response {
			return ds.post(oauth.PathIntrospect, withAssertion(inlineEC().assert(t, ds.claimsFor(pkInlineID)), "token", tok), "")
		})
	ops("revocation of an access token", append(slices.Clone(marker), "UpdateItem tokens"), http.StatusOK,
		func() response {
			return ds.post(oauth.PathRevoke, withAssertion(inlineRSA().assert(t, ds.claimsFor(pkInlineID)), "token", tok), "")
		})

	expired := ds.claimsFor(pkInlineID)
	expired["exp"] = ds.Clock.Now().Add(-time.Hour).Unix()
	ops("expired assertion", nil, http.StatusUnauthorized, func() response { return ds.ccAssert(inlineRSA().assert(t, expired)) })
	ops("forged assertion", nil, http.StatusUnauthorized,
		func() response { return ds.ccAssert(rogueRSA().assert(t, ds.claimsFor(pkInlineID))) })

	t.Run("throttled marker write", func(t *testing.T) {
		ds := ds.withT(t)
		a := inlineRSA().assert(t, ds.claimsFor(pkInlineID))
		throttled := apiError(http.StatusBadRequest, "ProvisionedThroughputExceededException", "slow down")
		resp, tr := ds.traced(&fault{at: 1, mode: beforeSend, err: throttled}, func() response { return ds.ccAssert(a) })
		wantError(t, resp, http.StatusServiceUnavailable, "temporarily_unavailable")
		// The client retried the throttled write, in vain.
		checkFault(t, tr, "PutItem tokens", beforeSend, marker)
		checkAttempts(t, tr, true)
		// Nothing was written: the same assertion works on retry.
		mustOK(t, "retry after throttling", ds.ccAssert(a))
	})

	t.Run("marker write lost and retried", func(t *testing.T) {
		ds := ds.withT(t)
		a := inlineRSA().assert(t, ds.claimsFor(pkInlineID))
		resp, tr := ds.traced(&fault{at: 1, mode: lostThenRetried, err: connectionReset}, func() response { return ds.ccAssert(a) })
		mustOK(t, "a request whose marker write was retried", resp)
		if n := tr.Attempts(); n != 2 {
			t.Errorf("the marker write was sent %d times, want 2", n)
		}
		// The first attempt wrote the marker; the retry met it.
		if sent := tr.Sent(); !slices.Equal(sent, []int{http.StatusOK, http.StatusBadRequest}) {
			t.Errorf("DynamoDB answered the marker write's attempts with %v, want [200 400] (written, then its condition failed)", sent)
		}
		wantError(t, ds.ccAssert(a), http.StatusUnauthorized, "invalid_client")
	})
}
