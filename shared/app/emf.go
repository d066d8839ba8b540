package app

import (
	"context"
	"encoding/json"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/gatehouse/gatehouse/shared/httpapi"
	"github.com/gatehouse/gatehouse/shared/oauth"
)

// MetricsNamespace is the CloudWatch namespace of Gatehouse's metrics.
const MetricsNamespace = "Gatehouse"

// EMF writes Gatehouse's request metrics as CloudWatch Embedded Metric
// Format lines
// (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html):
// one JSON object per request, on a line of its own, which CloudWatch Logs
// turns into metrics when the line reaches a Lambda function's log group.
// No CloudWatch API is called, so metrics cost the request no time.
//
// Each line records, in namespace "Gatehouse":
//
//	TokensIssued (Count)       access tokens the request issued
//	Errors (Count)             1 if the request failed (outcome not "ok"), else 0
//	Latency (Milliseconds)     the handler's duration
//
// under the dimension sets [Function, Endpoint] and [Function, Endpoint,
// Outcome] (Outcome "ok" or the OAuth error code, so Errors can be read by
// error code), plus [Function, Endpoint, GrantType] when the request names
// a grant. Dimension values come from a fixed set: a grant type the server
// does not know is recorded as "other", so a client cannot create metrics
// (which CloudWatch bills one by one) by sending made-up values. The
// request's client id and Lambda request id travel as plain properties
// (searchable in CloudWatch Logs Insights), never as dimensions.
//
// Use Observe as httpapi.Options.Observe. It is safe for concurrent use.
type EMF struct {
	function string
	now      func() time.Time

	mu sync.Mutex
	w  io.Writer
}

// NewEMF returns an EMF writer for the Lambda function name, writing to w
// (the function's standard output).
func NewEMF(w io.Writer, function string) *EMF {
	return &EMF{function: function, now: time.Now, w: w}
}

// emfLine is one EMF log event. Its root members are the dimension values,
// the metric values and the properties, in that order.
type emfLine struct {
	AWS          emfMetadata `json:"_aws"`
	Function     string      `json:"Function"`
	Endpoint     string      `json:"Endpoint"`
	Outcome      string      `json:"Outcome"`
	GrantType    string      `json:"GrantType,omitempty"`
	TokensIssued int         `json:"TokensIssued"`
	Errors       int         `json:"Errors"`
	Latency      float64     `json:"Latency"`
	ClientID     string      `json:"client_id,omitempty"`
	RequestID    string      `json:"aws_request_id,omitempty"`
}

type emfMetadata struct {
	Timestamp         int64          `json:"Timestamp"` // milliseconds since the epoch
	CloudWatchMetrics []emfDirective `json:"CloudWatchMetrics"`
}

type emfDirective struct {
	Namespace  string      `json:"Namespace"`
	Dimensions [][]string  `json:"Dimensions"`
	Metrics    []emfMetric `json:"Metrics"`
}

type emfMetric struct {
	Name string `json:"Name"`
	Unit string `json:"Unit"`
}

var (
	emfMetrics = []emfMetric{
		{Name: "TokensIssued", Unit: "Count"},
		{Name: "Errors", Unit: "Count"},
		{Name: "Latency", Unit: "Milliseconds"},
	}
	emfDimensions = [][]string{
		{"Function", "Endpoint"},
		{"Function", "Endpoint", "Outcome"},
	}
	emfDimensionsWithGrant = append(slices.Clip(emfDimensions), []string{"Function", "Endpoint", "GrantType"})

	// knownGrants are the grant types recorded as themselves.
	knownGrants = []string{
		oauth.GrantAuthorizationCode, oauth.GrantImplicit, oauth.GrantPassword,
		oauth.GrantClientCredentials, oauth.GrantRefreshToken,
	}
)

// Observe writes the EMF line of one request. ctx is the request's
// context; its Lambda request id, if any, is recorded as aws_request_id.
func (m *EMF) Observe(ctx context.Context, e httpapi.Event) {
	line := emfLine{
		AWS: emfMetadata{
			Timestamp: m.now().UnixMilli(),
			CloudWatchMetrics: []emfDirective{{
				Namespace:  MetricsNamespace,
				Dimensions: emfDimensions,
				Metrics:    emfMetrics,
			}},
		},
		Function:     m.function,
		Endpoint:     e.Endpoint,
		Outcome:      e.Outcome,
		TokensIssued: e.TokensIssued,
		Latency:      float64(e.Duration.Microseconds()) / 1000,
		ClientID:     e.ClientID,
	}
	if e.Outcome != httpapi.OutcomeOK {
		line.Errors = 1
	}
	if e.GrantType != "" {
		line.GrantType = "other"
		if slices.Contains(knownGrants, e.GrantType) {
			line.GrantType = e.GrantType
		}
		line.AWS.CloudWatchMetrics[0].Dimensions = emfDimensionsWithGrant
	}
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		line.RequestID = lc.AwsRequestID
	}
	b, err := json.Marshal(&line)
	if err != nil {
		return // cannot happen: strings and numbers only
	}
	b = append(b, '\n')
	m.mu.Lock()
	defer m.mu.Unlock()
	_, _ = m.w.Write(b) // metrics must never fail a request
}
