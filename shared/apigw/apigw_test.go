package apigw

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
)

// loadEvent reads a payload format 2.0 fixture from testdata.
func loadEvent(t *testing.T, name string) events.APIGatewayV2HTTPRequest {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var e events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(raw, &e); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if e.Version != "2.0" {
		t.Fatalf("%s: version %q, want 2.0", name, e.Version)
	}
	return e
}

// echoed is what echoHandler reports about the request it received.
type echoed struct {
	Method        string              `json:"method"`
	Proto         string              `json:"proto"`
	Host          string              `json:"host"`
	RemoteAddr    string              `json:"remote_addr"`
	RequestURI    string              `json:"request_uri"`
	Path          string              `json:"path"`
	Query         map[string][]string `json:"query"`
	Form          map[string][]string `json:"form"`
	ContentLength int64               `json:"content_length"`
	TLS           bool                `json:"tls"`
	Header        http.Header         `json:"header"`
	Cookies       map[string]string   `json:"cookies"`
	BasicUser     string              `json:"basic_user"`
}

// echoHandler is a real handler that parses the request the way Gatehouse
// endpoints do and answers with a JSON description of it.
var echoHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	out := echoed{
		Method:        r.Method,
		Proto:         r.Proto,
		Host:          r.Host,
		RemoteAddr:    r.RemoteAddr,
		RequestURI:    r.RequestURI,
		Path:          r.URL.Path,
		Query:         r.URL.Query(),
		Form:          r.PostForm,
		ContentLength: r.ContentLength,
		TLS:           r.TLS != nil,
		Header:        r.Header,
		Cookies:       map[string]string{},
	}
	for _, c := range r.Cookies() {
		out.Cookies[c.Name] = c.Value
	}
	out.BasicUser, _, _ = r.BasicAuth()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
})

func decodeEcho(t *testing.T, resp events.APIGatewayV2HTTPResponse) echoed {
	t.Helper()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d, body %q", resp.StatusCode, resp.Body)
	}
	if resp.IsBase64Encoded {
		t.Fatalf("JSON answer was base64-encoded")
	}
	var got echoed
	if err := json.Unmarshal([]byte(resp.Body), &got); err != nil {
		t.Fatalf("decoding echo %q: %v", resp.Body, err)
	}
	return got
}

type ctxKey struct{}

func TestHandler(t *testing.T) {
	pngBytes := []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01")

	tests := []struct {
		name    string
		fixture string
		ctx     func() (context.Context, context.CancelFunc)
		handler http.Handler
		check   func(t *testing.T, resp events.APIGatewayV2HTTPResponse)
	}{
		{
			name:    "repeated query parameter comes from rawQueryString",
			fixture: "get_repeated_query.json",
			handler: echoHandler,
			check: func(t *testing.T, resp events.APIGatewayV2HTTPResponse) {
				got := decodeEcho(t, resp)
				if want := []string{"1", "2"}; !reflect.DeepEqual(got.Query["a"], want) {
					t.Errorf(`Query()["a"] = %q, want %q`, got.Query["a"], want)
				}
				if want := []string{"xyz abc"}; !reflect.DeepEqual(got.Query["state"], want) {
					t.Errorf(`Query()["state"] = %q, want %q`, got.Query["state"], want)
				}
				if got.Method != "GET" || got.Path != "/authorize" || got.Proto != "HTTP/1.1" {
					t.Errorf("method/path/proto = %s %s %s", got.Method, got.Path, got.Proto)
				}
				if want := "/authorize?a=1&a=2&response_type=code&client_id=s6BhdRkqt3&state=xyz%20abc"; got.RequestURI != want {
					t.Errorf("RequestURI = %q, want %q", got.RequestURI, want)
				}
				if got.Host != "auth.gatehouse.example" {
					t.Errorf("Host = %q", got.Host)
				}
				if _, ok := got.Header["Host"]; ok {
					t.Errorf("Host left in Header: %q", got.Header["Host"])
				}
				if !got.TLS {
					t.Error("r.TLS is nil; API Gateway requests are HTTPS")
				}
				if want := []string{"one,two"}; !reflect.DeepEqual(got.Header["X-Custom"], want) {
					t.Errorf("X-Custom = %q, want %q (kept as API Gateway joined it)", got.Header["X-Custom"], want)
				}
				if got.RemoteAddr != "198.51.100.23:0" {
					t.Errorf("RemoteAddr = %q, want 198.51.100.23:0", got.RemoteAddr)
				}
				if ct := resp.Headers["Content-Type"]; ct != "application/json" {
					t.Errorf("response Content-Type = %q", ct)
				}
			},
		},
		{
			name:    "base64 form body is decoded",
			fixture: "post_form_base64.json",
			handler: echoHandler,
			check: func(t *testing.T, resp events.APIGatewayV2HTTPResponse) {
				got := decodeEcho(t, resp)
				want := map[string][]string{
					"grant_type":    {"authorization_code"},
					"code":          {"SplxlOBeZQQYbYS6WxSbIA"},
					"redirect_uri":  {"https://client.example.com/cb"},
					"code_verifier": {"dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"},
				}
				if !reflect.DeepEqual(got.Form, want) {
					t.Errorf("PostForm = %v, want %v", got.Form, want)
				}
				if got.Method != "POST" || got.ContentLength != 166 {
					t.Errorf("method %s, ContentLength %d", got.Method, got.ContentLength)
				}
				if got.BasicUser != "s6BhdRkqt3" {
					t.Errorf("BasicAuth user = %q", got.BasicUser)
				}
				if len(got.Query) != 0 || got.RequestURI != "/token" {
					t.Errorf("query %v, RequestURI %q", got.Query, got.RequestURI)
				}
			},
		},
		{
			name:    "cookies array becomes the Cookie header",
			fixture: "get_cookies.json",
			handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				s, err := r.Cookie("gh_session")
				if err != nil {
					http.Error(w, err.Error(), http.StatusBadRequest)
					return
				}
				c, err := r.Cookie("gh_csrf")
				if err != nil {
					http.Error(w, err.Error(), http.StatusBadRequest)
					return
				}
				w.Header().Set("Content-Type", "text/plain; charset=utf-8")
				io.WriteString(w, s.Value+"|"+c.Value+"|"+r.Header.Get("Cookie"))
			}),
			check: func(t *testing.T, resp events.APIGatewayV2HTTPResponse) {
				want := "c2Vzc2lvbi1zZWNyZXQ|8f14e45fceea167a|gh_session=c2Vzc2lvbi1zZWNyZXQ; gh_csrf=8f14e45fceea167a"
				if resp.StatusCode != 200 || resp.Body != want || resp.IsBase64Encoded {
					t.Errorf("got %d %q (base64 %v), want 200 %q", resp.StatusCode, resp.Body, resp.IsBase64Encoded, want)
				}
			},
		},
		{
			name:    "two Set-Cookie headers become two cookies entries",
			fixture: "get_cookies.json",
			handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				http.SetCookie(w, &http.Cookie{Name: "gh_session", Value: "new", Path: "/", Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode})
				http.SetCookie(w, &http.Cookie{Name: "gh_csrf", Value: "", Path: "/", MaxAge: -1})
				w.Header().Add("Vary", "Cookie")
				w.Header().Add("Vary", "Accept")
				w.Header().Set("Location", "https://client.example.com/cb?code=x")
				w.WriteHeader(http.StatusFound)
			}),
			check: func(t *testing.T, resp events.APIGatewayV2HTTPResponse) {
				want := []string{
					"gh_session=new; Path=/; HttpOnly; Secure; SameSite=Lax",
					"gh_csrf=; Path=/; Max-Age=0",
				}
				if !reflect.DeepEqual(resp.Cookies, want) {
					t.Errorf("Cookies = %q, want %q", resp.Cookies, want)
				}
				for k := range resp.Headers {
					if strings.EqualFold(k, "Set-Cookie") {
						t.Errorf("Set-Cookie leaked into Headers: %q", resp.Headers[k])
					}
				}
				if resp.StatusCode != http.StatusFound || resp.Headers["Location"] != "https://client.example.com/cb?code=x" {
					t.Errorf("status %d, Location %q", resp.StatusCode, resp.Headers["Location"])
				}
				if resp.Headers["Vary"] != "Cookie, Accept" {
					t.Errorf("Vary = %q, want %q", resp.Headers["Vary"], "Cookie, Accept")
				}
			},
		},
		{
			name:    "binary response is base64",
			fixture: "get_jwks_ipv6.json",
			handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "image/png")
				w.Write(pngBytes)
			}),
			check: func(t *testing.T, resp events.APIGatewayV2HTTPResponse) {
				if !resp.IsBase64Encoded {
					t.Fatalf("IsBase64Encoded = false, body %q", resp.Body)
				}
				b, err := base64.StdEncoding.DecodeString(resp.Body)
				if err != nil || !bytes.Equal(b, pngBytes) {
					t.Errorf("decoded body %q, %v; want %q", b, err, pngBytes)
				}
			},
		},
		{
			name:    "binary response without Content-Type is sniffed and base64",
			fixture: "get_jwks_ipv6.json",
			handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Write(pngBytes)
			}),
			check: func(t *testing.T, resp events.APIGatewayV2HTTPResponse) {
				if !resp.IsBase64Encoded || resp.Headers["Content-Type"] != "image/png" {
					t.Errorf("base64 %v, Content-Type %q", resp.IsBase64Encoded, resp.Headers["Content-Type"])
				}
			},
		},
		{
			name:    "invalid UTF-8 under a text type is base64",
			fixture: "get_jwks_ipv6.json",
			handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/plain")
				w.Write([]byte{'o', 'k', 0xff, 0xfe})
			}),
			check: func(t *testing.T, resp events.APIGatewayV2HTTPResponse) {
				if !resp.IsBase64Encoded || resp.Body != base64.StdEncoding.EncodeToString([]byte{'o', 'k', 0xff, 0xfe}) {
					t.Errorf("base64 %v, body %q", resp.IsBase64Encoded, resp.Body)
				}
			},
		},
		{
			name:    "IPv6 source IP lands in RemoteAddr, Host falls back to domainName",
			fixture: "get_jwks_ipv6.json",
			handler: echoHandler,
			check: func(t *testing.T, resp events.APIGatewayV2HTTPResponse) {
				got := decodeEcho(t, resp)
				if got.RemoteAddr != "[2001:db8::7]:0" {
					t.Errorf("RemoteAddr = %q", got.RemoteAddr)
				}
				if ip, _, err := net.SplitHostPort(got.RemoteAddr); err != nil || ip != "2001:db8::7" {
					t.Errorf("SplitHostPort(%q) = %q, %v", got.RemoteAddr, ip, err)
				}
				if got.Host != "r4nd0m1d.execute-api.eu-west-1.amazonaws.com" {
					t.Errorf("Host = %q", got.Host)
				}
				if got.Path != "/.well-known/jwks.json" || got.RequestURI != "/.well-known/jwks.json" {
					t.Errorf("Path %q, RequestURI %q", got.Path, got.RequestURI)
				}
			},
		},
		{
			name:    "panicking handler answers 500 server_error",
			fixture: "get_cookies.json",
			handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("X-Partial", "yes")
				http.SetCookie(w, &http.Cookie{Name: "half", Value: "done"})
				w.WriteHeader(http.StatusOK)
				io.WriteString(w, "partial output")
				panic(errors.New("store unavailable"))
			}),
			check: func(t *testing.T, resp events.APIGatewayV2HTTPResponse) {
				if resp.StatusCode != http.StatusInternalServerError {
					t.Errorf("status %d, want 500", resp.StatusCode)
				}
				if resp.Body != `{"error":"server_error"}` {
					t.Errorf("body %q", resp.Body)
				}
				if resp.Headers["Content-Type"] != "application/json" || resp.Headers["Cache-Control"] != "no-store" {
					t.Errorf("headers %v", resp.Headers)
				}
				if resp.Headers["X-Partial"] != "" || len(resp.Cookies) != 0 {
					t.Errorf("partial response leaked: %v %v", resp.Headers, resp.Cookies)
				}
			},
		},
		{
			name:    "bad base64 body answers 400 without running the handler",
			fixture: "post_bad_base64.json",
			handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusTeapot)
			}),
			check: func(t *testing.T, resp events.APIGatewayV2HTTPResponse) {
				if resp.StatusCode != http.StatusBadRequest {
					t.Errorf("status %d, want 400", resp.StatusCode)
				}
				var body map[string]string
				if err := json.Unmarshal([]byte(resp.Body), &body); err != nil || body["error"] != "invalid_request" {
					t.Errorf("body %q (%v)", resp.Body, err)
				}
			},
		},
		{
			name:    "handler sees the Lambda context",
			fixture: "get_jwks_ipv6.json",
			ctx: func() (context.Context, context.CancelFunc) {
				ctx := lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{
					AwsRequestID:       "8476a536-e9f4-11e8-9739-2dfe598c3fcd",
					InvokedFunctionArn: "arn:aws:lambda:eu-west-1:123456789012:function:gatehouse-jwks",
				})
				ctx = context.WithValue(ctx, ctxKey{}, "tenant-42")
				return context.WithDeadline(ctx, time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC))
			},
			handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				lc, ok := lambdacontext.FromContext(r.Context())
				if !ok {
					http.Error(w, "no lambda context", http.StatusInternalServerError)
					return
				}
				dl, _ := r.Context().Deadline()
				v, _ := r.Context().Value(ctxKey{}).(string)
				io.WriteString(w, lc.AwsRequestID+" "+v+" "+dl.Format(time.RFC3339))
			}),
			check: func(t *testing.T, resp events.APIGatewayV2HTTPResponse) {
				// The deadline is the invocation's less ResponseReserve.
				want := "8476a536-e9f4-11e8-9739-2dfe598c3fcd tenant-42 2098-12-31T23:59:59Z"
				if resp.StatusCode != 200 || resp.Body != want {
					t.Errorf("got %d %q, want 200 %q", resp.StatusCode, resp.Body, want)
				}
				if ct := resp.Headers["Content-Type"]; ct != "text/plain; charset=utf-8" || resp.IsBase64Encoded {
					t.Errorf("sniffed Content-Type %q, base64 %v", ct, resp.IsBase64Encoded)
				}
			},
		},
		{
			name:    "handler writing nothing answers 200 with its headers",
			fixture: "get_jwks_ipv6.json",
			handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Cache-Control", "no-store")
			}),
			check: func(t *testing.T, resp events.APIGatewayV2HTTPResponse) {
				if resp.StatusCode != 200 || resp.Body != "" || resp.IsBase64Encoded || resp.Headers["Cache-Control"] != "no-store" {
					t.Errorf("got %+v", resp)
				}
			},
		},
		{
			name:    "headers after WriteHeader and bodies on 204 are ignored",
			fixture: "get_jwks_ipv6.json",
			handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusNoContent)
				w.WriteHeader(http.StatusOK) // superfluous; ignored
				w.Header().Set("X-Late", "1")
				if _, err := io.WriteString(w, "nope"); err != http.ErrBodyNotAllowed {
					panic("Write on 204 did not fail with ErrBodyNotAllowed")
				}
			}),
			check: func(t *testing.T, resp events.APIGatewayV2HTTPResponse) {
				if resp.StatusCode != http.StatusNoContent || resp.Body != "" || resp.Headers["X-Late"] != "" {
					t.Errorf("got %+v", resp)
				}
			},
		},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			if tt.ctx != nil {
				var cancel context.CancelFunc
				ctx, cancel = tt.ctx()
				defer cancel()
			}
			resp, err := Handler(tt.handler)(ctx, loadEvent(t, tt.fixture))
			if err != nil {
				t.Fatalf("Handler returned a Lambda error: %v", err)
			}
			tt.check(t, resp)
		})
	}
}

// TestPanicLogNoSecrets checks the panic is logged through log/slog with
// its request ID, and without the query, cookies, Authorization or body.
func TestPanicLogNoSecrets(t *testing.T) {
	var buf bytes.Buffer
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewJSONHandler(&buf, nil)))
	t.Cleanup(func() { slog.SetDefault(prev) })

	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		panic("token endpoint exploded")
	})
	for _, fixture := range []string{"get_cookies.json", "post_form_base64.json"} {
		buf.Reset()
		e := loadEvent(t, fixture)
		resp, err := Handler(h)(context.Background(), e)
		if err != nil || resp.StatusCode != http.StatusInternalServerError {
			t.Fatalf("%s: got %d, %v", fixture, resp.StatusCode, err)
		}
		log := buf.String()
		if !strings.Contains(log, "token endpoint exploded") || !strings.Contains(log, e.RequestContext.RequestID) {
			t.Errorf("%s: log lacks panic or request ID: %s", fixture, log)
		}
		for _, secret := range []string{
			"c2Vzc2lvbi1zZWNyZXQ",          // session cookie
			"s6BhdRkqt3",                   // client_id in query / Basic user
			"czZCaGRSa3F0MzpnWDFmQmF0M2JW", // Authorization
			"SplxlOBeZQQYbYS6WxSbIA",       // authorization code in body
			e.Body,
		} {
			if secret != "" && strings.Contains(log, secret) {
				t.Errorf("%s: log contains request secret %q: %s", fixture, secret, log)
			}
		}
	}
}

// TestLambdaInvoke drives Handler through aws-lambda-go's own reflection
// handler, as lambda.Start does, with the raw fixture bytes, and checks the
// JSON wire response.
func TestLambdaInvoke(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("testdata", "get_repeated_query.json"))
	if err != nil {
		t.Fatal(err)
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if got := r.URL.Query()["a"]; len(got) > 1 {
			// RFC 6749 §3.1: parameters MUST NOT be repeated.
			http.SetCookie(w, &http.Cookie{Name: "a", Value: "1"})
			http.SetCookie(w, &http.Cookie{Name: "b", Value: "2"})
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Cache-Control", "no-store")
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, `{"error":"invalid_request","error_description":"repeated parameter a"}`)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	out, err := lambda.NewHandler(Handler(h)).Invoke(context.Background(), raw)
	if err != nil {
		t.Fatal(err)
	}
	var wire struct {
		StatusCode      int               `json:"statusCode"`
		Headers         map[string]string `json:"headers"`
		Cookies         []string          `json:"cookies"`
		Body            string            `json:"body"`
		IsBase64Encoded bool              `json:"isBase64Encoded"`
	}
	if err := json.Unmarshal(out, &wire); err != nil {
		t.Fatalf("%s: %v", out, err)
	}
	if wire.StatusCode != 400 || wire.IsBase64Encoded ||
		wire.Body != `{"error":"invalid_request","error_description":"repeated parameter a"}` ||
		!reflect.DeepEqual(wire.Cookies, []string{"a=1", "b=2"}) ||
		wire.Headers["Content-Type"] != "application/json" {
		t.Errorf("wire response %s", out)
	}
}

func TestHeadDropsBody(t *testing.T) {
	e := loadEvent(t, "get_jwks_ipv6.json")
	e.RequestContext.HTTP.Method = http.MethodHead
	resp, err := Handler(echoHandler)(context.Background(), e)
	if err != nil || resp.StatusCode != 200 || resp.Body != "" || resp.Headers["Content-Type"] != "application/json" {
		t.Errorf("got %+v, %v", resp, err)
	}
}

func TestRequestURL(t *testing.T) {
	tests := []struct {
		rawPath, rawQuery, ctxPath string
		wantPath, wantURI          string
	}{
		{"/authorize", "", "", "/authorize", "/authorize"},
		{"/a%2Fb", "x=1", "", "/a/b", "/a%2Fb?x=1"},
		{"/with space", "", "", "/with space", "/with%20space"},
		{"", "", "/token", "/token", "/token"},
		{"", "", "", "/", "/"},
		{"/q", "redirect_uri=https%3A%2F%2Fc.example%2Fcb&scope=a+b", "", "/q", "/q?redirect_uri=https%3A%2F%2Fc.example%2Fcb&scope=a+b"},
	}
	for _, tt := range tests {
		e := &events.APIGatewayV2HTTPRequest{RawPath: tt.rawPath, RawQueryString: tt.rawQuery}
		e.RequestContext.HTTP.Path = tt.ctxPath
		u := requestURL(e)
		if u.Path != tt.wantPath || u.RequestURI() != tt.wantURI {
			t.Errorf("requestURL(%q, %q) = path %q, URI %q; want %q, %q",
				tt.rawPath, tt.rawQuery, u.Path, u.RequestURI(), tt.wantPath, tt.wantURI)
		}
	}
}

func TestIsText(t *testing.T) {
	tests := []struct {
		ct   string
		want bool
	}{
		{"text/html; charset=utf-8", true},
		{"text/plain", true},
		{"application/json", true},
		{"application/JSON", true},
		{"application/jwk-set+json", true},
		{"application/problem+json", true},
		{"application/x-www-form-urlencoded", true},
		{"application/javascript", true},
		{"application/xml", true},
		{"text/xml", true},
		{"application/samlmetadata+xml", true},
		{"application/jwt; charset=utf-8", true},
		{"application/octet-stream; charset=binary", true},
		{"text/html; charset", true},
		{"application/octet-stream", false},
		{"application/jwt", false},
		{"image/png", false},
		{"application/pdf", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := isText(tt.ct); got != tt.want {
			t.Errorf("isText(%q) = %v, want %v", tt.ct, got, tt.want)
		}
	}
}

// TestHandlerReservesTimeToAnswer: the handler's request context ends
// ResponseReserve before the invocation's deadline, and carries no deadline
// when the invocation has none.
func TestHandlerReservesTimeToAnswer(t *testing.T) {
	var got time.Time
	var has bool
	h := Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, has = r.Context().Deadline()
	}))
	e := events.APIGatewayV2HTTPRequest{RawPath: "/", RequestContext: events.APIGatewayV2HTTPRequestContext{
		HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: http.MethodGet, Path: "/"},
	}}
	deadline := time.Now().Add(10 * time.Second)
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	if _, err := h(ctx, e); err != nil {
		t.Fatal(err)
	}
	if !has || !got.Equal(deadline.Add(-ResponseReserve)) {
		t.Errorf("handler deadline %v (set: %v); want %v", got, has, deadline.Add(-ResponseReserve))
	}
	if _, err := h(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	if has {
		t.Errorf("handler deadline %v without an invocation deadline", got)
	}
}
