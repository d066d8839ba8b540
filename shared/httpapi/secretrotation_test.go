package httpapi_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/shared/oauth"
	"github.com/gatehouse/gatehouse/shared/signer/localsigner"
	"github.com/gatehouse/gatehouse/shared/store/clientcache"
	"github.com/gatehouse/gatehouse/shared/store/memstore"
)

// rotationGrace is how long the tests let a replaced secret keep working.
const rotationGrace = 10 * time.Minute

// clientStore is what the rotation tests read and replace clients through:
// memstore and dynamostore, under the cache.
type clientStore interface {
	GetClient(ctx context.Context, id string) (*oauth.Client, error)
	PutClient(ctx context.Context, c *oauth.Client) error
}

// TestSecretRotationOverlap: after `gatehouse clients rotate-secret`, on a
// warm container whose client cache holds the record from before, the new
// secret works at once (a secret that fails against the cached record
// earns one fresh read), and the old one keeps working until the grace
// period ends, then stops, cache or no cache. Before the fix the new
// secret was refused, and the old one accepted, for up to the cache's TTL.
// Both stores, each behind the client cache as in a warm Lambda.
func TestSecretRotationOverlap(t *testing.T) {
	t.Run("memstore", func(t *testing.T) {
		signer, err := localsigner.New(localsigner.RS256)
		if err != nil {
			t.Fatal(err)
		}
		ts := startServer(t, signer, func(m *memstore.Store) oauth.Store {
			return clientcache.New(m, clientCacheTTL, m.Now)
		})
		testSecretRotation(t, ts, ts.Store, nil)
	})
	t.Run("dynamodb", func(t *testing.T) {
		ds := newDynamoServer(t)
		testSecretRotation(t, ds.testServer, ds.Backing, func() int { n := ds.Calls.Count("GetItem"); ds.Calls.Reset(); return n })
	})
}

// testSecretRotation rotates the service client's secret under ts.
// getItems, if not nil, returns (and resets) the count of DynamoDB GetItem
// calls since its last call.
func testSecretRotation(t *testing.T, ts *testServer, store clientStore, getItems func() int) {
	ctx := context.Background()
	cc := func(secret string) response {
		t.Helper()
		return ts.post(oauth.PathToken, "grant_type=client_credentials", basic(serviceID, secret))
	}
	reads := func(what string, want int) {
		t.Helper()
		if getItems == nil {
			return
		}
		if got := getItems(); got != want {
			t.Errorf("%s: %d GetItem calls, want %d", what, got, want)
		}
	}
	mustOK(t, "old secret, warming the cache", cc(serviceSecret))
	if getItems != nil {
		getItems()
	}

	// What rotate-secret stores: a new secret, the old one kept until the
	// grace period ends.
	c, err := store.GetClient(ctx, serviceID)
	if err != nil {
		t.Fatal(err)
	}
	newSecret := oauth.NewClientSecret()
	rotatedAt := ts.Clock.Now()
	c.PreviousSecretHash, c.PreviousSecretExpiresAt = c.SecretHash, rotatedAt.Add(rotationGrace)
	c.SecretHash = oauth.HashSecret(newSecret)
	if err := store.PutClient(ctx, c); err != nil {
		t.Fatal(err)
	}
	if getItems != nil {
		getItems() // the test's own read
	}

	mustOK(t, "new secret at once, on the warm cache", cc(newSecret))
	reads("new secret on a stale cache", 1)
	mustOK(t, "new secret again", cc(newSecret))
	mustOK(t, "old secret during the grace period", cc(serviceSecret))
	reads("both secrets on the fresh record", 0)
	wantActive(t, ts.introspectAs(basic(serviceID, newSecret), str(ts.ccToken("read"), "access_token"), ""))
	wantRevoked(t, ts.revokeWith(basic(serviceID, newSecret), "unknown-token", ""))
	if getItems != nil {
		getItems()
	}

	// A wrong secret costs at most one fresh read a second, however often
	// it is tried.
	for range 5 {
		wantError(t, cc("Wrong-Secret-42"), http.StatusUnauthorized, "invalid_client")
	}
	reads("wrong secrets just after a fresh read", 0)
	ts.Clock.Advance(2 * time.Second)
	for range 5 {
		wantError(t, cc("Wrong-Secret-42"), http.StatusUnauthorized, "invalid_client")
	}
	reads("wrong secrets a while later", 1)

	// Past the cache's TTL, still in the grace period: both work.
	ts.Clock.Advance(clientCacheTTL + time.Second)
	mustOK(t, "old secret after the cache's TTL", cc(serviceSecret))
	mustOK(t, "new secret after the cache's TTL", cc(newSecret))

	// The grace period ends: the old secret is refused on a warm cache
	// too, and the new one works on.
	ts.Clock.Advance(rotatedAt.Add(rotationGrace).Sub(ts.Clock.Now()) - time.Second)
	mustOK(t, "old secret a second before the end", cc(serviceSecret))
	ts.Clock.Advance(time.Second)
	r := cc(serviceSecret)
	wantError(t, r, http.StatusUnauthorized, "invalid_client")
	wantChallenge(t, r)
	wantError(t, ts.introspectAs(basic(serviceID, serviceSecret), "x", ""), http.StatusUnauthorized, "invalid_client")
	mustOK(t, "new secret after the grace period", cc(newSecret))

	// A second rotation drops the first secret at once and keeps the second.
	c, err = store.GetClient(ctx, serviceID)
	if err != nil {
		t.Fatal(err)
	}
	third := oauth.NewClientSecret()
	c.PreviousSecretHash, c.PreviousSecretExpiresAt = c.SecretHash, ts.Clock.Now().Add(rotationGrace)
	c.SecretHash = oauth.HashSecret(third)
	if err := store.PutClient(ctx, c); err != nil {
		t.Fatal(err)
	}
	ts.Clock.Advance(2 * time.Second)
	mustOK(t, "third secret", cc(third))
	mustOK(t, "second secret, now the previous", cc(newSecret))
	wantError(t, cc(serviceSecret), http.StatusUnauthorized, "invalid_client")
}

// TestSecretRotationParallel: right after a rotation, on a warm cache,
// racers parallel requests with the new secret all succeed, and share one
// fresh read of the client; racers parallel wrong secrets all fail, and
// cost at most one. Both stores behind the client cache.
func TestSecretRotationParallel(t *testing.T) {
	t.Run("memstore", func(t *testing.T) {
		signer, err := localsigner.New(localsigner.RS256)
		if err != nil {
			t.Fatal(err)
		}
		ts := startServer(t, signer, func(m *memstore.Store) oauth.Store {
			return clientcache.New(m, clientCacheTTL, m.Now)
		})
		testSecretRotationParallel(t, ts, ts.Store, nil)
	})
	t.Run("dynamodb", func(t *testing.T) {
		ds := newDynamoServer(t)
		testSecretRotationParallel(t, ds.testServer, ds.Backing, func() int { n := ds.Calls.Count("GetItem"); ds.Calls.Reset(); return n })
	})
}

func testSecretRotationParallel(t *testing.T, ts *testServer, store clientStore, getItems func() int) {
	ctx := context.Background()
	form := "grant_type=client_credentials"
	mustOK(t, "old secret, warming the cache", ts.post(oauth.PathToken, form, basic(serviceID, serviceSecret)))
	c, err := store.GetClient(ctx, serviceID)
	if err != nil {
		t.Fatal(err)
	}
	newSecret := oauth.NewClientSecret()
	c.RotateSecret(newSecret, ts.Clock.Now(), rotationGrace)
	if err := store.PutClient(ctx, c); err != nil {
		t.Fatal(err)
	}
	if getItems != nil {
		getItems()
	}
	tally := func(outcomes []raceOutcome) map[int]int {
		n := map[int]int{}
		for _, o := range outcomes {
			if o.err != nil {
				t.Fatalf("a racing request failed: %v", o.err)
			}
			n[o.status]++
		}
		return n
	}
	if got := tally(ts.raceRequests(racers, oauth.PathToken, form, basic(serviceID, newSecret))); got[http.StatusOK] != racers {
		t.Errorf("%d parallel requests with the new secret: statuses %v, want all 200", racers, got)
	}
	if getItems != nil {
		if n := getItems(); n != 1 {
			t.Errorf("%d parallel requests with the new secret cost %d GetItem calls, want 1", racers, n)
		}
	}
	ts.Clock.Advance(2 * time.Second)
	if got := tally(ts.raceRequests(racers, oauth.PathToken, form, basic(serviceID, "Wrong-Secret-42"))); got[http.StatusUnauthorized] != racers {
		t.Errorf("%d parallel wrong secrets: statuses %v, want all 401", racers, got)
	}
	if getItems != nil {
		if n := getItems(); n > 1 {
			t.Errorf("%d parallel wrong secrets cost %d GetItem calls, want at most 1", racers, n)
		}
	}
}
