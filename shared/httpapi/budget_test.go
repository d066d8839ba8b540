package httpapi_test

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/shared/oauth"
)

// TestDynamoCallBudget counts the DynamoDB operations each request makes on
// a warm server (the client cache already holds the client) and fails past
// docs/design.md's budget ("Remote calls are the latency and the bill"). It
// also pins the exact operations, so a change that adds one, even within
// budget, shows up here. Operations are counted on the wire (see
// faultInjector), where each must be a single request. BENCHMARKS.md's "DynamoDB calls per request"
// records the numbers.
func TestDynamoCallBudget(t *testing.T) {
	const noBudget = -1
	ds := newDynamoServer(t)

	// Warm-up: one request of every kind below, so the client cache holds
	// the web and service clients.
	warm := ds.tokens("read write")
	mustOK(t, "warm-up refresh", ds.refresh(str(warm, "refresh_token"), ""))
	ds.ccToken("read")
	mustOK(t, "warm-up password grant", ds.passwordGrant(userName, userPassword, "read"))

	type row struct {
		request string
		budget  int
		ops     []string
	}
	var rows []row
	// measure runs one request, checks it, and checks its operations are
	// exactly want and within budget.
	measure := func(request string, budget int, want []string, do func() response, check func(response)) response {
		t.Helper()
		resp, tr := ds.traced(nil, do)
		check(resp)
		ops := tr.Ops()
		rows = append(rows, row{request, budget, ops})
		if budget != noBudget && len(ops) > budget {
			t.Errorf("%s: %d DynamoDB calls, over the budget of %d: %s", request, len(ops), budget, tr)
		}
		if !slices.Equal(ops, want) {
			t.Errorf("%s: DynamoDB operations [%s], want [%s]", request,
				strings.Join(ops, ", "), strings.Join(want, ", "))
		}
		// Each operation is one request: none was retried.
		if r := tr.Retries(); len(r) > 0 {
			t.Errorf("%s: DynamoDB operations sent more than once: %v", request, r)
		}
		return resp
	}
	status := func(want int) func(response) {
		return func(r response) {
			t.Helper()
			if r.Status != want {
				t.Fatalf("status %d, want %d: %s", r.Status, want, r.Body)
			}
		}
	}
	isOK := status(http.StatusOK)

	measure("client_credentials", 0, nil, func() response {
		return ds.post(oauth.PathToken, "grant_type=client_credentials&scope=read", basic(serviceID, serviceSecret))
	}, isOK)

	// Signing in (the login form, and the password grant): the attempt
	// is counted against the address and then the username before the
	// password is checked (two conditional UpdateItems), and a success
	// then clears the username's counter (DeleteItem) and takes the
	// attempt back from the address's (UpdateItem). docs/design.md sets no
	// budget for them: the password check (about 0.3 s on a 128 MB
	// Lambda) dwarfs these calls.
	counted := []string{"UpdateItem sessions", "UpdateItem sessions"}
	settled := []string{"DeleteItem sessions", "UpdateItem sessions"}
	signIn := ds.newBrowser()
	loginPage := ds.openLogin(signIn, webCodeParams("budget"))
	measure("authorize login form POST (signs in)", noBudget,
		slices.Concat(counted, []string{"GetItem users"}, settled, []string{"PutItem sessions"}),
		func() response {
			return ds.submit(signIn, loginPage.Body, url.Values{"username": {userName}, "password": {userPassword}})
		}, status(http.StatusSeeOther))
	measure("token: password", noBudget,
		slices.Concat(counted, []string{"GetItem users"}, settled, []string{"PutItem tokens"}),
		func() response { return ds.passwordGrant(userName, userPassword, "read") }, isOK)
	// A wrong password stays counted: nothing more to write. Past the
	// limit, the username's conditional UpdateItem refuses the attempt
	// and nothing else is read or written.
	guesser, nobody := ds.newBrowser(), "budget-nobody"
	// wrongPassword opens the login page, then returns the post of a
	// wrong password, to measure.
	wrongPassword := func() func() response {
		page := ds.openLogin(guesser, webCodeParams("budget"))
		return func() response {
			return ds.submit(guesser, page.Body, url.Values{"username": {nobody}, "password": {"wrong"}})
		}
	}
	measure("authorize login form POST, wrong password", noBudget,
		slices.Concat(counted, []string{"GetItem users"}), wrongPassword(), isOK)
	measure("token: password, wrong password", noBudget,
		slices.Concat(counted, []string{"GetItem users"}),
		func() response { return ds.passwordGrant(nobody, "wrong", "read") }, status(http.StatusBadRequest))
	for range oauth.DefaultLoginMaxFailures - 2 {
		wrongPassword()()
	}
	measure("authorize login form POST, username at its limit (429)", noBudget, counted,
		wrongPassword(), status(http.StatusTooManyRequests))

	// The authorization endpoint with a live session: the GET that shows
	// the consent page (prompt=consent: the user may have allowed the
	// client before), then the consent POST that issues the code and
	// records the consent in the session and the user's record, in one
	// transaction.
	browser := ds.newBrowser()
	verifier, challenge := pkce()
	params := url.Values{
		"response_type": {"code"}, "client_id": {webID}, "redirect_uri": {redirectURI},
		"scope": {"read write"}, "state": {"budget"}, "code_challenge": {challenge}, "code_challenge_method": {"S256"},
		"prompt": {"consent"},
	}
	ds.signInToConsent(browser, params)
	consent := measure("authorize GET, live session (consent page)", 2,
		[]string{"GetItem sessions"},
		func() response { return ds.authorizeGet(browser, params.Encode()) },
		func(r response) {
			t.Helper()
			if r.Status != http.StatusOK || !isConsentPage(r.Body) {
				t.Fatalf("want the consent page, got %d:\n%s", r.Status, r.Body)
			}
		})
	issued := measure("authorize consent POST (issues the code)", 2,
		[]string{"GetItem sessions", "TransactWriteItems codes+sessions+users"},
		func() response { return ds.submit(browser, consent.Body, url.Values{"decision": {"allow"}}) },
		status(http.StatusSeeOther))
	if issued.Location(t).Query().Get("code") == "" {
		t.Fatalf("no code in %s", issued.Header.Get("Location"))
	}
	// The same request again, consent remembered: the code at once.
	delete(params, "prompt")
	issued = measure("authorize GET, live session, consent remembered (issues the code)", 2,
		[]string{"GetItem sessions", "PutItem codes"},
		func() response { return ds.authorizeGet(browser, params.Encode()) },
		status(http.StatusFound))
	code := issued.Location(t).Query().Get("code")
	if code == "" {
		t.Fatalf("no code in %s", issued.Header.Get("Location"))
	}

	exchanged := measure("token: authorization_code exchange", 2,
		[]string{"GetItem codes", "TransactWriteItems codes+tokens"},
		func() response { return ds.exchange(code, verifier) }, isOK).JSON(t)
	refreshed := measure("token: refresh_token (rotation)", 2,
		[]string{"BatchGetItem tokens", "TransactWriteItems tokens"},
		func() response { return ds.refresh(str(exchanged, "refresh_token"), "") }, isOK).JSON(t)
	access, rt := str(refreshed, "access_token"), str(refreshed, "refresh_token")

	active := func(r response) { t.Helper(); wantActive(t, r) }
	measure("introspect: access token of a grant", 1,
		[]string{"BatchGetItem tokens"},
		func() response { return ds.introspectResp(access, "") }, active)
	ccAccess := str(ds.ccToken("read"), "access_token")
	measure("introspect: client_credentials access token", 1,
		[]string{"GetItem tokens"},
		func() response { return ds.introspectResp(ccAccess, "") }, active)
	measure("introspect: refresh token", 1,
		[]string{"BatchGetItem tokens"},
		func() response { return ds.webIntrospects(rt, "") }, active)

	measure("revoke: access token", 2,
		[]string{"UpdateItem tokens"},
		func() response { return ds.revokeWith(basic(webID, webSecret), access, "") }, isOK)
	measure("revoke: refresh token (the grant)", 2,
		[]string{"BatchGetItem tokens", "UpdateItem tokens"},
		func() response { return ds.revokeWith(basic(webID, webSecret), rt, "") }, isOK)

	measure("metadata", 0, nil, func() response { return ds.get(nil, oauth.PathMetadata) }, isOK)
	measure("JWKS", 0, nil, func() response { return ds.get(nil, oauth.PathJWKS) }, isOK)

	// The revocations took: the access token and the grant are dead.
	wantInactive(t, ds.introspectResp(access, ""))
	wantInactive(t, ds.webIntrospects(rt, ""))

	// For comparison, not budgeted: a cold container (the cached client
	// has expired) reads the client once more.
	ds.Clock.Advance(clientCacheTTL + time.Second)
	measure("client_credentials, cold client cache (not budgeted)", noBudget,
		[]string{"GetItem clients"},
		func() response {
			return ds.post(oauth.PathToken, "grant_type=client_credentials&scope=read", basic(serviceID, serviceSecret))
		}, isOK)

	t.Logf("DynamoDB calls per request (warm client cache):")
	t.Logf("| Request | Budget | Calls | Operations |")
	t.Logf("|---|---:|---:|---|")
	for _, r := range rows {
		ops := "none"
		if len(r.ops) > 0 {
			ops = strings.Join(r.ops, " + ")
		}
		budget := strconv.Itoa(r.budget)
		if r.budget == noBudget {
			budget = "-"
		}
		t.Logf("| %s | %s | %d | %s |", r.request, budget, len(r.ops), ops)
	}
}
