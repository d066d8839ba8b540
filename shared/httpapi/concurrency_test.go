package httpapi_test

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/gatehouse/gatehouse/shared/oauth"
)

// racers is how many requests race in the concurrency tests.
const racers = 50

// raceOutcome is one racer's answer.
type raceOutcome struct {
	status int
	body   string
	err    error
}

// raceRequests sends the same POST from n goroutines at once and returns
// their answers. Each goroutine first opens its own connection (a GET of
// the JWKS), then waits at a barrier, so the racing requests leave
// together over warm connections.
func (ts *testServer) raceRequests(n int, path, form, auth string) []raceOutcome {
	ts.t.Helper()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: n, MaxConnsPerHost: n}}
	defer client.CloseIdleConnections()
	out := make([]raceOutcome, n)
	var ready, done sync.WaitGroup
	start := make(chan struct{})
	ready.Add(n)
	done.Add(n)
	for i := range n {
		go func() {
			defer done.Done()
			// Warm this goroutine's connection.
			if resp, err := client.Get(ts.URL + oauth.PathJWKS); err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			req, err := http.NewRequest(http.MethodPost, ts.URL+path, strings.NewReader(form))
			if err != nil {
				ready.Done()
				out[i].err = err
				return
			}
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Authorization", auth)
			ready.Done()
			<-start
			resp, err := client.Do(req)
			if err != nil {
				out[i].err = err
				return
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			out[i] = raceOutcome{resp.StatusCode, string(body), err}
		}()
	}
	ready.Wait()
	close(start)
	done.Wait()
	return out
}

// oneWinner checks that exactly one racer got 200 and every other got 400
// invalid_grant, and returns the winner's token response.
func oneWinner(t *testing.T, outcomes []raceOutcome) response {
	t.Helper()
	var winners []response
	tally := map[string]int{}
	for _, o := range outcomes {
		if o.err != nil {
			t.Fatalf("a racing request failed: %v", o.err)
		}
		r := response{Status: o.status, Body: o.body}
		key := fmt.Sprint(o.status)
		if o.status == http.StatusOK {
			winners = append(winners, r)
		} else {
			key += " " + fmt.Sprint(r.JSON(t)["error"])
		}
		tally[key]++
	}
	keys := make([]string, 0, len(tally))
	for k := range tally {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var summary []string
	for _, k := range keys {
		summary = append(summary, fmt.Sprintf("%s × %d", k, tally[k]))
	}
	t.Logf("%d racing requests: %s", len(outcomes), strings.Join(summary, ", "))
	if len(winners) != 1 || tally["400 invalid_grant"] != len(outcomes)-1 {
		t.Fatalf("want exactly one 200 and %d × 400 invalid_grant, got %s", len(outcomes)-1, strings.Join(summary, ", "))
	}
	return winners[0]
}

// TestDynamoConcurrentCodeExchange: 50 requests redeem the same code at
// once on DynamoDB. Exactly one gets tokens; the other 49 get
// invalid_grant. Each loser's attempt is a second presentation of the
// code, which RFC 6749 §4.1.2 (and RFC 9700 §4.5) says SHOULD revoke the
// tokens already issued with it: so the grant ends revoked and the
// winner's tokens, though issued, are dead. That is the intended outcome
// of a replay race, asserted here explicitly: the server cannot tell a
// legitimate client's duplicate from an attacker's replay.
func TestDynamoConcurrentCodeExchange(t *testing.T) {
	ds := newDynamoServer(t)
	code, verifier := ds.codeFor("read")
	grantID := ds.codeGrant(code)
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code},
		"redirect_uri": {redirectURI}, "code_verifier": {verifier}}.Encode()

	ds.Calls.Reset()
	winner := oneWinner(t, ds.raceRequests(racers, oauth.PathToken, form, basic(webID, webSecret))).JSON(t)
	logRace(t, ds)
	access, rt := str(winner, "access_token"), str(winner, "refresh_token")
	if access == "" || rt == "" {
		t.Fatalf("the winner got no tokens: %v", winner)
	}

	// The losers' replays revoked the grant, the winner's tokens included.
	if !ds.grantRevoked(grantID) {
		t.Fatalf("after 49 replays of the code, the grant is not revoked")
	}
	wantInactive(t, ds.introspectResp(access, ""))
	wantInactive(t, ds.webIntrospects(rt, ""))
	wantError(t, ds.refresh(rt, ""), http.StatusBadRequest, "invalid_grant")
	wantError(t, ds.exchange(code, verifier), http.StatusBadRequest, "invalid_grant")
	// Exactly one refresh token was ever stored for the grant: the
	// winner's.
	if live := ds.liveRefreshTokens(grantID); len(live) != 1 || live[0] != oauth.HashToken(rt) {
		t.Errorf("unrotated refresh tokens of the grant: %q, want only the winner's", live)
	}
}

// TestDynamoConcurrentRefresh: 50 requests present the same refresh token
// at once on DynamoDB. Exactly one rotation succeeds; the other 49 are
// reuses of a rotated token (RFC 9700 §4.14.2), which revoke the grant:
// it ends revoked, the winner's new tokens and the access token issued
// before the race included.
func TestDynamoConcurrentRefresh(t *testing.T) {
	ds := newDynamoServer(t)
	toks := ds.tokens("read")
	access0, rt0 := str(toks, "access_token"), str(toks, "refresh_token")
	grantID := grantOf(t, rt0)
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt0}}.Encode()

	ds.Calls.Reset()
	winner := oneWinner(t, ds.raceRequests(racers, oauth.PathToken, form, basic(webID, webSecret))).JSON(t)
	logRace(t, ds)
	access, rt := str(winner, "access_token"), str(winner, "refresh_token")
	if access == "" || rt == "" || rt == rt0 {
		t.Fatalf("the winner got no new tokens: %v", winner)
	}

	if !ds.grantRevoked(grantID) {
		t.Fatalf("after 49 reuses of the refresh token, the grant is not revoked")
	}
	for name, tok := range map[string]string{
		"the winner's access token": access, "the access token issued before": access0,
	} {
		if ds.active(tok) {
			t.Errorf("%s is still active", name)
		}
	}
	for name, tok := range map[string]string{"the winner's refresh token": rt, "the raced refresh token": rt0} {
		if ds.webIntrospects(tok, "").JSON(t)["active"] != false {
			t.Errorf("%s is still active", name)
		}
	}
	wantError(t, ds.refresh(rt, ""), http.StatusBadRequest, "invalid_grant")
	// One rotation happened: the raced token is rotated and the winner's is
	// the only unrotated one.
	if live := ds.liveRefreshTokens(grantID); len(live) != 1 || live[0] != oauth.HashToken(rt) {
		t.Errorf("unrotated refresh tokens of the grant: %q, want only the winner's", live)
	}
}

// logRace logs the DynamoDB operations of a race: more than one
// TransactWriteItems means several racers got past the read before the
// winner committed, so the atomic write itself decided.
func logRace(t *testing.T, ds *dynamoServer) {
	t.Helper()
	t.Logf("DynamoDB operations during the race: %v", ds.Calls.Counts())
}
