package lambdatest_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/gatehouse/gatehouse/shared/apigw/lambdatest"
)

// poll plays aws-lambda-go's runtime client once: GET /next, then POST
// the answer answer(payload) returns to /response, or to /error if it
// returns an error. It reports the /next response's headers. It runs on
// its own goroutine, so it fails t with Errorf only.
func poll(t *testing.T, rt *lambdatest.Runtime, answer func(payload []byte) ([]byte, error)) http.Header {
	base := "http://" + rt.Addr() + "/2018-06-01/runtime/invocation/"
	resp, err := http.Get(base + "next")
	if err != nil {
		t.Errorf("next: %v", err)
		return nil
	}
	payload, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("next: status %d", resp.StatusCode)
		return nil
	}
	id := resp.Header.Get(lambdatest.HeaderRequestID)
	out, ferr := answer(payload)
	target, body := base+id+"/response", out
	if ferr != nil {
		target = base + id + "/error"
		body, _ = json.Marshal(map[string]string{"errorMessage": ferr.Error(), "errorType": "errorString"})
	}
	post, err := http.Post(target, "application/json", strings.NewReader(string(body)))
	if err != nil {
		t.Errorf("POST %s: %v", target, err)
		return nil
	}
	post.Body.Close()
	if post.StatusCode != http.StatusAccepted {
		t.Errorf("POST %s: status %d; want 202", target, post.StatusCode)
	}
	return resp.Header
}

func TestRuntimeInvoke(t *testing.T) {
	rt := lambdatest.NewRuntime(t)
	select {
	case <-rt.Ready():
		t.Fatal("ready before the first /next")
	default:
	}

	headers := make(chan http.Header, 1)
	go func() {
		headers <- poll(t, rt, func(p []byte) ([]byte, error) { return append([]byte("echo:"), p...), nil })
	}()
	inv, err := rt.Invoke(context.Background(), []byte(`{"n":1}`))
	if err != nil {
		t.Fatal(err)
	}
	if string(inv.Response) != `echo:{"n":1}` || inv.RequestID == "" {
		t.Errorf("invocation %+v", inv)
	}
	h := <-headers
	if h.Get(lambdatest.HeaderRequestID) != inv.RequestID || h.Get(lambdatest.HeaderFunctionARN) == "" || h.Get(lambdatest.HeaderTraceID) == "" {
		t.Errorf("next headers %v", h)
	}
	deadline, err := strconv.ParseInt(h.Get(lambdatest.HeaderDeadlineMS), 10, 64)
	if err != nil || time.UnixMilli(deadline).Before(time.Now()) {
		t.Errorf("Lambda-Runtime-Deadline-Ms %q is not a future time in milliseconds", h.Get(lambdatest.HeaderDeadlineMS))
	}
	select {
	case <-rt.Ready():
	default:
		t.Error("not ready after /next")
	}
	if rt.FirstNext().IsZero() {
		t.Error("FirstNext is zero")
	}

	// A function error comes back as a *FunctionError.
	go poll(t, rt, func([]byte) ([]byte, error) { return nil, errors.New("boom") })
	_, err = rt.Invoke(context.Background(), []byte(`{}`))
	var fe *lambdatest.FunctionError
	if !errors.As(err, &fe) || fe.Message != "boom" || fe.Type != "errorString" {
		t.Errorf("error %v; want the function's error", err)
	}
	if n := len(rt.Invocations()); n != 2 {
		t.Errorf("%d invocations recorded; want 2", n)
	}
}

func TestRuntimeInitError(t *testing.T) {
	rt := lambdatest.NewRuntime(t)
	resp, err := http.Post("http://"+rt.Addr()+"/2018-06-01/runtime/init/error", "application/json",
		strings.NewReader(`{"errorMessage":"bad config","errorType":"Runtime.ConfigError"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Errorf("status %d; want 202", resp.StatusCode)
	}
	if fe := rt.InitError(); fe == nil || fe.Message != "bad config" || fe.Type != "Runtime.ConfigError" {
		t.Errorf("InitError() = %v", fe)
	}
}

func TestRuntimeInvokeTimesOut(t *testing.T) {
	rt := lambdatest.NewRuntime(t)
	rt.Timeout = 50 * time.Millisecond
	if _, err := rt.Invoke(context.Background(), []byte(`{}`)); err == nil {
		t.Fatal("Invoke without a function polling succeeded")
	}
}

func TestGateway(t *testing.T) {
	gw := lambdatest.NewGateway()
	var got events.APIGatewayV2HTTPRequest
	gw.Route("POST /token", func(_ context.Context, e events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		got = e
		return events.APIGatewayV2HTTPResponse{
			StatusCode:      201,
			Headers:         map[string]string{"Content-Type": "application/octet-stream", "Cache-Control": "no-store"},
			Cookies:         []string{"a=1; Path=/; Secure", "b=2; Path=/"},
			Body:            base64.StdEncoding.EncodeToString([]byte{0, 1, 2}),
			IsBase64Encoded: true,
		}, nil
	})
	gw.Route("ANY /.well-known/{proxy+}", func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		return events.APIGatewayV2HTTPResponse{}, errors.New("function failed")
	})

	req := httptest.NewRequest(http.MethodPost, "https://auth.example/token?x=1&x=2", strings.NewReader("grant_type=client_credentials"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Add("Cookie", "s=abc; t=def")
	req.Header.Add("X-Multi", "one")
	req.Header.Add("X-Multi", "two")
	resp, err := gw.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 201 || string(body) != "\x00\x01\x02" || resp.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("response %d %q %v", resp.StatusCode, body, resp.Header)
	}
	if want := []string{"a=1; Path=/; Secure", "b=2; Path=/"}; !reflect.DeepEqual(resp.Header["Set-Cookie"], want) {
		t.Errorf("Set-Cookie %q; want %q", resp.Header["Set-Cookie"], want)
	}

	if got.Version != "2.0" || got.RouteKey != "POST /token" || got.RawPath != "/token" || got.RawQueryString != "x=1&x=2" {
		t.Errorf("event %+v", got)
	}
	if got.QueryStringParameters["x"] != "1,2" {
		t.Errorf("queryStringParameters %v; API Gateway joins repeats with commas", got.QueryStringParameters)
	}
	if !reflect.DeepEqual(got.Cookies, []string{"s=abc", "t=def"}) || got.Headers["cookie"] != "" {
		t.Errorf("cookies %q, cookie header %q; want the cookies array only", got.Cookies, got.Headers["cookie"])
	}
	if got.Headers["x-multi"] != "one,two" || got.Headers["host"] != "auth.example" || got.Headers["content-type"] == "" {
		t.Errorf("headers %v", got.Headers)
	}
	b, err := base64.StdEncoding.DecodeString(got.Body)
	if !got.IsBase64Encoded || err != nil || string(b) != "grant_type=client_credentials" {
		t.Errorf("body %q (base64 %v); want the form base64-encoded", got.Body, got.IsBase64Encoded)
	}
	rc := got.RequestContext
	if rc.HTTP.Method != "POST" || rc.HTTP.Path != "/token" || rc.HTTP.SourceIP != gw.SourceIP || rc.DomainName != "auth.example" || rc.RequestID == "" {
		t.Errorf("requestContext %+v", rc)
	}

	for target, want := range map[string]int{
		"https://auth.example/.well-known/jwks.json": http.StatusInternalServerError, // the function failed
		"https://auth.example/nowhere":               http.StatusNotFound,
	} {
		resp, err := gw.RoundTrip(httptest.NewRequest(http.MethodGet, target, nil))
		if err != nil || resp.StatusCode != want {
			t.Errorf("GET %s: %v, %v; want %d", target, resp.StatusCode, err, want)
		}
	}
	if n := len(gw.Exchanges()); n != 2 {
		t.Errorf("%d exchanges; want 2 (the unrouted request reaches no function)", n)
	}
}
