package httpapi

import (
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/gatehouse/gatehouse/shared/oauth"
)

// record collects one request's log fields. It never holds a secret: only
// the endpoint, grant type, client id and outcome.
type record struct {
	log       *slog.Logger
	r         *http.Request
	endpoint  string
	grantType string
	clientID  string
	outcome   string
	cause     error
	start     time.Time
}

func (h *Handlers) begin(r *http.Request, endpoint string) *record {
	return &record{log: h.log, r: r, endpoint: endpoint, outcome: "ok", start: time.Now()}
}

// fail notes an error's OAuth code as the outcome, and keeps the internal
// cause of server errors for the log.
func (rec *record) fail(err error) {
	oe := oauth.AsError(err)
	rec.outcome = oe.Code
	rec.cause = errors.Unwrap(oe)
}

func (rec *record) end() {
	attrs := []slog.Attr{
		slog.String("endpoint", rec.endpoint),
		slog.String("outcome", rec.outcome),
		slog.Duration("duration", time.Since(rec.start)),
	}
	if rec.grantType != "" {
		attrs = append(attrs, slog.String("grant_type", rec.grantType))
	}
	if rec.clientID != "" {
		attrs = append(attrs, slog.String("client_id", rec.clientID))
	}
	level := slog.LevelInfo
	if rec.cause != nil {
		level = slog.LevelError
		attrs = append(attrs, slog.String("cause", rec.cause.Error()))
	}
	rec.log.LogAttrs(rec.r.Context(), level, "request", attrs...)
}
