package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/gatehouse/gatehouse/shared/app"
	"github.com/gatehouse/gatehouse/shared/httpapi"
)

// emfUnits are the units the Embedded Metric Format accepts
// (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html,
// MetricDefinition.Unit: CloudWatch's StandardUnit values).
var emfUnits = []string{
	"Seconds", "Microseconds", "Milliseconds", "Bytes", "Kilobytes", "Megabytes", "Gigabytes", "Terabytes",
	"Bits", "Kilobits", "Megabits", "Gigabits", "Terabits", "Percent", "Count", "Bytes/Second",
	"Kilobytes/Second", "Megabytes/Second", "Gigabytes/Second", "Terabytes/Second", "Bits/Second",
	"Kilobits/Second", "Megabits/Second", "Gigabits/Second", "Terabits/Second", "Count/Second", "None",
}

// checkEMF checks one log event against the Embedded Metric Format
// specification and returns its root members:
//
//   - the event is a JSON object on one line;
//   - its "_aws" member is an object with "Timestamp" (a number of
//     milliseconds since the epoch) and "CloudWatchMetrics", an array of
//     MetricDirective objects;
//   - each directive has a "Namespace" (1-255 characters), "Dimensions"
//     (an array of DimensionSets: arrays of at most 30 dimension names,
//     each naming a root member whose value is a string) and "Metrics" (at
//     most 100 MetricDefinitions, each with a "Name" naming a root member
//     whose value is a number, or an array of at most 100 numbers, and a
//     valid "Unit"; "StorageResolution", if present, 1 or 60).
func checkEMF(t *testing.T, line string) map[string]any {
	t.Helper()
	if strings.Contains(line, "\n") {
		t.Fatalf("EMF event spans lines: %q", line)
	}
	var root map[string]any
	dec := json.NewDecoder(strings.NewReader(line))
	dec.UseNumber()
	if err := dec.Decode(&root); err != nil {
		t.Fatalf("EMF event is not a JSON object: %q: %v", line, err)
	}
	meta, ok := root["_aws"].(map[string]any)
	if !ok {
		t.Fatalf("no _aws object: %s", line)
	}
	ts, ok := meta["Timestamp"].(json.Number)
	if _, err := ts.Int64(); !ok || err != nil {
		t.Errorf("_aws.Timestamp %v is not an integer number of milliseconds", meta["Timestamp"])
	}
	directives, ok := meta["CloudWatchMetrics"].([]any)
	if !ok || len(directives) == 0 {
		t.Fatalf("_aws.CloudWatchMetrics %v is not a non-empty array", meta["CloudWatchMetrics"])
	}
	for _, d := range directives {
		dir, ok := d.(map[string]any)
		if !ok {
			t.Fatalf("MetricDirective %v is not an object", d)
		}
		if ns, ok := dir["Namespace"].(string); !ok || ns == "" || len(ns) > 255 {
			t.Errorf("Namespace %v", dir["Namespace"])
		}
		sets, ok := dir["Dimensions"].([]any)
		if !ok {
			t.Errorf("Dimensions %v is not an array", dir["Dimensions"])
		}
		for _, s := range sets {
			set, ok := s.([]any)
			if !ok || len(set) > 30 {
				t.Errorf("DimensionSet %v is not an array of at most 30 names", s)
				continue
			}
			for _, name := range set {
				n, _ := name.(string)
				if v, ok := root[n].(string); !ok || v == "" || len(v) > 1024 {
					t.Errorf("dimension %v: root member %v is not a non-empty string of at most 1024 characters", name, root[n])
				}
			}
		}
		metrics, ok := dir["Metrics"].([]any)
		if !ok || len(metrics) == 0 || len(metrics) > 100 {
			t.Fatalf("Metrics %v is not an array of 1-100 MetricDefinitions", dir["Metrics"])
		}
		for _, m := range metrics {
			def, ok := m.(map[string]any)
			if !ok {
				t.Fatalf("MetricDefinition %v is not an object", m)
			}
			name, _ := def["Name"].(string)
			if name == "" || len(name) > 1024 {
				t.Errorf("MetricDefinition Name %v", def["Name"])
			}
			if _, ok := root[name].(json.Number); !ok {
				t.Errorf("metric %s: root member %v is not a number", name, root[name])
			}
			if u, present := def["Unit"]; present && !slices.Contains(emfUnits, fmt.Sprint(u)) {
				t.Errorf("metric %s: unit %v is not a CloudWatch unit", name, u)
			}
			if r, present := def["StorageResolution"]; present && fmt.Sprint(r) != "1" && fmt.Sprint(r) != "60" {
				t.Errorf("metric %s: StorageResolution %v", name, r)
			}
		}
	}
	return root
}

func TestEMF(t *testing.T) {
	inLambda := lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"})
	type dims = [][]string
	tests := []struct {
		name  string
		ctx   context.Context
		event httpapi.Event
		want  map[string]any // root members (numbers as strings)
		dims  dims
	}{
		{
			name: "token issued",
			ctx:  inLambda,
			event: httpapi.Event{Endpoint: "token", GrantType: "client_credentials", ClientID: "svc",
				Outcome: "ok", Duration: 12345 * time.Microsecond, TokensIssued: 1},
			want: map[string]any{"Function": "token", "Endpoint": "token", "Outcome": "ok", "GrantType": "client_credentials",
				"TokensIssued": "1", "Errors": "0", "Latency": "12.345", "client_id": "svc",
				"aws_request_id": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"},
			dims: dims{{"Function", "Endpoint"}, {"Function", "Endpoint", "Outcome"}, {"Function", "Endpoint", "GrantType"}},
		},
		{
			name:  "error, by code",
			ctx:   inLambda,
			event: httpapi.Event{Endpoint: "introspect", ClientID: "svc", Outcome: "invalid_client", Duration: time.Millisecond},
			want: map[string]any{"Function": "token", "Endpoint": "introspect", "Outcome": "invalid_client",
				"TokensIssued": "0", "Errors": "1", "Latency": "1"},
			dims: dims{{"Function", "Endpoint"}, {"Function", "Endpoint", "Outcome"}},
		},
		{
			name:  "made-up grant type is not a dimension value",
			ctx:   context.Background(),
			event: httpapi.Event{Endpoint: "token", GrantType: "urn:x:" + strings.Repeat("a", 2000), Outcome: "unsupported_grant_type"},
			want: map[string]any{"GrantType": "other", "Outcome": "unsupported_grant_type", "Errors": "1",
				"Latency": "0", "aws_request_id": nil},
			dims: dims{{"Function", "Endpoint"}, {"Function", "Endpoint", "Outcome"}, {"Function", "Endpoint", "GrantType"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			before := time.Now().UnixMilli()
			app.NewEMF(&buf, "token").Observe(tt.ctx, tt.event)
			out := buf.String()
			if strings.Count(out, "\n") != 1 || !strings.HasSuffix(out, "\n") {
				t.Fatalf("want one line, got %q", out)
			}
			root := checkEMF(t, strings.TrimSuffix(out, "\n"))
			meta := root["_aws"].(map[string]any)
			if ts, _ := meta["Timestamp"].(json.Number).Int64(); ts < before || ts > time.Now().UnixMilli() {
				t.Errorf("Timestamp %d is not now", ts)
			}
			dir := meta["CloudWatchMetrics"].([]any)[0].(map[string]any)
			if dir["Namespace"] != "Gatehouse" {
				t.Errorf("Namespace %v", dir["Namespace"])
			}
			if got := fmt.Sprint(dir["Dimensions"]); got != fmt.Sprint(tt.dims) {
				t.Errorf("Dimensions %s; want %s", got, fmt.Sprint(tt.dims))
			}
			wantMetrics := `[map[Name:TokensIssued Unit:Count] map[Name:Errors Unit:Count] map[Name:Latency Unit:Milliseconds]]`
			if got := fmt.Sprint(dir["Metrics"]); got != wantMetrics {
				t.Errorf("Metrics %s; want %s", got, wantMetrics)
			}
			for k, want := range tt.want {
				got, present := root[k]
				if want == nil {
					if present {
						t.Errorf("%s = %v; want it absent", k, got)
					}
					continue
				}
				if fmt.Sprint(got) != want {
					t.Errorf("%s = %v; want %v", k, got, want)
				}
			}
		})
	}
}

// Requests served concurrently (Lambda's multi-concurrency, or `serve`)
// never interleave their lines.
func TestEMFConcurrentLines(t *testing.T) {
	var buf unlockedWriter
	emf := app.NewEMF(&buf, "token")
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Go(func() {
			emf.Observe(context.Background(), httpapi.Event{Endpoint: "token", Outcome: "ok", ClientID: fmt.Sprint("client-", i)})
		})
	}
	wg.Wait()
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != 50 {
		t.Fatalf("%d lines; want 50", len(lines))
	}
	for _, line := range lines {
		checkEMF(t, line)
	}
}

// unlockedWriter is deliberately not safe for concurrent use: only the
// EMF writer's own lock keeps the lines whole (and the race detector
// quiet).
type unlockedWriter struct{ b bytes.Buffer }

func (w *unlockedWriter) Write(p []byte) (int, error) { return w.b.Write(p) }
func (w *unlockedWriter) String() string              { return w.b.String() }
