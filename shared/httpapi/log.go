package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"
	"unicode/utf8"

	"github.com/gatehouse/gatehouse/shared/oauth"
)

// Endpoint names, as they appear in the log ("endpoint") and in an Event.
const (
	EndpointAuthorize  = "authorize"
	EndpointLogout     = "logout"
	EndpointToken      = "token"
	EndpointIntrospect = "introspect"
	EndpointRevoke     = "revoke"
	EndpointMetadata   = "metadata"
	EndpointJWKS       = "jwks"
)

// OutcomeOK is the outcome of a request that succeeded. Other outcomes are
// the OAuth error code the client was sent (RFC 6749 §5.2, §4.1.2.1:
// "invalid_client", "server_error", "access_denied", ...), or
// OutcomeLoginFailed.
const (
	OutcomeOK = "ok"
	// OutcomeLoginFailed: the login form was posted with a wrong username
	// or password (the page is shown again; no OAuth error is sent).
	OutcomeLoginFailed = "login_failed"
	// OutcomeLoginThrottled: a login refused, unchecked, because its
	// username or source address is over the failed-login limit.
	OutcomeLoginThrottled = "login_throttled"
)

// Event is what one request did, as its log line records it and as
// Options.Observe receives it. It never holds a secret, token, code or
// password: only which endpoint, which grant, which client and how it
// ended.
type Event struct {
	// Endpoint is one of the Endpoint* names.
	Endpoint string
	// GrantType is the token request's grant_type as sent (any string:
	// it comes from the client; clipped to 128 bytes), or, at the
	// authorization endpoint, the grant the response type starts
	// ("authorization_code" or "implicit"). Empty elsewhere.
	GrantType string
	// ClientID is the client as identified by the request (authenticated
	// or not: a failed authentication logs the id it claimed; clipped to
	// 128 bytes). Empty if the request named none.
	ClientID string
	// Outcome is OutcomeOK, OutcomeLoginFailed or the OAuth error code
	// sent to the client.
	Outcome string
	// Duration is the time the handler took.
	Duration time.Duration
	// TokensIssued counts the access tokens the request issued: 1 for a
	// successful token response or an implicit-grant authorization, else 0.
	TokensIssued int
}

// record collects one request's log fields. It never holds a secret: only
// the endpoint, grant type, client id and outcome.
type record struct {
	h     *Handlers
	r     *http.Request
	ev    Event
	cause error
	start time.Time
}

func (h *Handlers) begin(r *http.Request, endpoint string) *record {
	return &record{h: h, r: r, ev: Event{Endpoint: endpoint, Outcome: OutcomeOK}, start: time.Now()}
}

// fail notes an error's OAuth code as the outcome, and keeps the internal
// cause of server errors for the log.
func (rec *record) fail(err error) {
	oe := oauth.AsError(err)
	rec.ev.Outcome = oe.Code
	rec.cause = errors.Unwrap(oe)
}

// issued notes that the request issued an access token.
func (rec *record) issued() { rec.ev.TokensIssued++ }

// end writes the request's log line and hands its Event to
// Options.Observe.
func (rec *record) end() {
	rec.ev.Duration = time.Since(rec.start)
	rec.ev.GrantType = clip(rec.ev.GrantType)
	rec.ev.ClientID = clip(rec.ev.ClientID)
	ctx := rec.r.Context()
	rec.log(ctx)
	if rec.h.opts.Observe != nil {
		rec.h.opts.Observe(ctx, rec.ev)
	}
}

// maxLoggedValue caps the values a client chooses (grant_type,
// client_id) in the log and the Event, so a request cannot make its log
// line as large as its body.
const maxLoggedValue = 128

// clip cuts s to at most maxLoggedValue bytes, at a character boundary.
func clip(s string) string {
	if len(s) <= maxLoggedValue {
		return s
	}
	i := maxLoggedValue
	for i > maxLoggedValue-utf8.UTFMax && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + "…"
}

func (rec *record) log(ctx context.Context) {
	ev := &rec.ev
	attrs := make([]slog.Attr, 0, 7)
	attrs = append(attrs,
		slog.String("endpoint", ev.Endpoint),
		slog.String("outcome", ev.Outcome),
		slog.Float64("duration_ms", float64(ev.Duration.Microseconds())/1000),
	)
	if ev.GrantType != "" {
		attrs = append(attrs, slog.String("grant_type", ev.GrantType))
	}
	if ev.ClientID != "" {
		attrs = append(attrs, slog.String("client_id", ev.ClientID))
	}
	if ev.TokensIssued > 0 {
		attrs = append(attrs, slog.Int("tokens_issued", ev.TokensIssued))
	}
	level := slog.LevelInfo
	if rec.cause != nil {
		level = slog.LevelError
		attrs = append(attrs, slog.String("cause", rec.cause.Error()))
	}
	rec.h.log.LogAttrs(ctx, level, "request", attrs...)
}
