package lambdatest

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

// Integration is a Lambda proxy integration with payload format 2.0: what
// API Gateway invokes for a route. Runtime.Integration is one; a test may
// also wrap an apigw.Handler to run a function in process.
type Integration func(ctx context.Context, e events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error)

// Gateway stands in for an API Gateway HTTP API in front of Lambda
// functions. As an http.RoundTripper it turns each request into the
// payload 2.0 event API Gateway would send (FromRequest) to the
// integration of the matching route, and the integration's answer into
// the HTTP response API Gateway would return (ToResponse). Unrouted
// requests get API Gateway's 404; an integration that fails (a Lambda
// error) its 500.
//
// Requests go nowhere near the network, so any URL works; a cookie jar on
// the http.Client sees the https URLs the functions' Secure cookies need.
type Gateway struct {
	// SourceIP is the client address in requestContext.http.sourceIp.
	SourceIP string

	mu        sync.Mutex
	routes    []route
	exchanges []Exchange
}

type route struct {
	key, method, path string
	prefix            bool // path ends in /{proxy+}
	in                Integration
}

// Exchange is one request the Gateway handled: the event it sent and the
// response it got, or the integration's error.
type Exchange struct {
	Route    string
	Event    events.APIGatewayV2HTTPRequest
	Response events.APIGatewayV2HTTPResponse
	Err      error
}

// NewGateway returns a Gateway without routes.
func NewGateway() *Gateway { return &Gateway{SourceIP: "203.0.113.7"} }

// Route sends the requests matching routeKey to in. A route key is API
// Gateway's: "METHOD /path" or "ANY /path", where the path may end in a
// greedy "/{proxy+}" segment. Routes are tried in the order added.
func (g *Gateway) Route(routeKey string, in Integration) {
	method, path, ok := strings.Cut(routeKey, " ")
	if !ok || !strings.HasPrefix(path, "/") {
		panic(fmt.Sprintf("lambdatest: route key %q is not \"METHOD /path\"", routeKey))
	}
	r := route{key: routeKey, method: method, path: path, in: in}
	if p, ok := strings.CutSuffix(path, "/{proxy+}"); ok {
		r.path, r.prefix = p+"/", true
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.routes = append(g.routes, r)
}

// Client returns an http.Client sending its requests through g, with jar
// (nil for none), that does not follow redirects: a test sees each 302 and
// 303 as a browser's network log would.
func (g *Gateway) Client(jar http.CookieJar) *http.Client {
	return &http.Client{
		Transport:     g,
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       time.Minute,
	}
}

// Exchanges returns every exchange so far, in order.
func (g *Gateway) Exchanges() []Exchange {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]Exchange(nil), g.exchanges...)
}

// RoundTrip implements http.RoundTripper.
func (g *Gateway) RoundTrip(r *http.Request) (*http.Response, error) {
	var body []byte
	if r.Body != nil {
		var err error
		body, err = io.ReadAll(r.Body)
		r.Body.Close()
		if err != nil {
			return nil, err
		}
	}
	rt, ok := g.match(r.Method, r.URL.EscapedPath())
	if !ok {
		return ToResponse(r, events.APIGatewayV2HTTPResponse{StatusCode: http.StatusNotFound,
			Headers: map[string]string{"Content-Type": "application/json"}, Body: `{"message":"Not Found"}`})
	}
	e := FromRequest(r, body, rt.key, g.SourceIP)
	resp, err := rt.in(r.Context(), e)
	g.mu.Lock()
	g.exchanges = append(g.exchanges, Exchange{Route: rt.key, Event: e, Response: resp, Err: err})
	g.mu.Unlock()
	if err != nil {
		resp = events.APIGatewayV2HTTPResponse{StatusCode: http.StatusInternalServerError,
			Headers: map[string]string{"Content-Type": "application/json"}, Body: `{"message":"Internal Server Error"}`}
	}
	return ToResponse(r, resp)
}

func (g *Gateway) match(method, path string) (route, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, rt := range g.routes {
		if rt.method != "ANY" && rt.method != method {
			continue
		}
		if path == rt.path || rt.prefix && strings.HasPrefix(path, rt.path) {
			return rt, true
		}
	}
	return route{}, false
}

// FromRequest builds the payload format 2.0 event API Gateway sends for
// request r with body, matched by routeKey, from client address sourceIP
// (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-lambda.html):
//
//   - header names lower-cased, repeated headers joined with commas;
//   - the Cookie header split into the cookies array, not in headers;
//   - rawPath and rawQueryString as sent, queryStringParameters with
//     repeated parameters comma-joined (as API Gateway does: functions
//     must read rawQueryString);
//   - a body that is not text or JSON base64-encoded with isBase64Encoded,
//     as API Gateway sends form posts.
func FromRequest(r *http.Request, body []byte, routeKey, sourceIP string) events.APIGatewayV2HTTPRequest {
	now := time.Now()
	host := r.Host
	if host == "" {
		host = r.URL.Host
	}
	headers := map[string]string{}
	var cookies []string
	for k, vs := range r.Header {
		lk := strings.ToLower(k)
		if lk == "cookie" {
			for _, v := range vs {
				for c := range strings.SplitSeq(v, ";") {
					if c = strings.TrimSpace(c); c != "" {
						cookies = append(cookies, c)
					}
				}
			}
			continue
		}
		headers[lk] = strings.Join(vs, ",")
	}
	headers["host"] = host
	headers["x-forwarded-for"] = sourceIP
	headers["x-forwarded-proto"] = "https"
	headers["x-forwarded-port"] = "443"
	if len(body) > 0 {
		headers["content-length"] = strconv.Itoa(len(body))
	}
	if _, ok := headers["user-agent"]; !ok {
		headers["user-agent"] = "Go-http-client/1.1"
	}

	var qsp map[string]string
	if q, err := url.ParseQuery(r.URL.RawQuery); err == nil && len(q) > 0 {
		qsp = make(map[string]string, len(q))
		for k, vs := range q {
			qsp[k] = strings.Join(vs, ",")
		}
	}

	domainPrefix, _, _ := strings.Cut(host, ".")
	e := events.APIGatewayV2HTTPRequest{
		Version:               "2.0",
		RouteKey:              routeKey,
		RawPath:               r.URL.EscapedPath(),
		RawQueryString:        r.URL.RawQuery,
		Cookies:               cookies,
		Headers:               headers,
		QueryStringParameters: qsp,
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RouteKey:     routeKey,
			AccountID:    "111122223333",
			Stage:        "$default",
			RequestID:    strings.ReplaceAll(newRequestID(), "-", "")[:16] + "=",
			APIID:        "lambdatest",
			DomainName:   host,
			DomainPrefix: domainPrefix,
			Time:         now.UTC().Format("02/Jan/2006:15:04:05 -0700"),
			TimeEpoch:    now.UnixMilli(),
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{
				Method:    r.Method,
				Path:      r.URL.Path,
				Protocol:  "HTTP/1.1",
				SourceIP:  sourceIP,
				UserAgent: headers["user-agent"],
			},
		},
	}
	if len(body) > 0 {
		if textual(r.Header.Get("Content-Type")) {
			e.Body = string(body)
		} else {
			e.Body = base64.StdEncoding.EncodeToString(body)
			e.IsBase64Encoded = true
		}
	}
	return e
}

// textual reports whether API Gateway passes a body of this type as text.
func textual(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	return strings.HasPrefix(mt, "text/") || mt == "application/json" || strings.HasSuffix(mt, "+json")
}

// ToResponse converts a payload 2.0 response to the HTTP response API
// Gateway sends for request r: headers as given, one Set-Cookie per
// cookies entry, the body base64-decoded when isBase64Encoded.
func ToResponse(r *http.Request, resp events.APIGatewayV2HTTPResponse) (*http.Response, error) {
	body := []byte(resp.Body)
	if resp.IsBase64Encoded {
		var err error
		if body, err = base64.StdEncoding.DecodeString(resp.Body); err != nil {
			return nil, fmt.Errorf("lambdatest: response body flagged base64 is not: %w", err)
		}
	}
	h := make(http.Header, len(resp.Headers)+len(resp.Cookies))
	for k, v := range resp.Headers {
		h.Add(k, v)
	}
	for _, c := range resp.Cookies {
		h.Add("Set-Cookie", c)
	}
	status := resp.StatusCode
	if status == 0 {
		status = http.StatusOK
	}
	if r.Method == http.MethodHead {
		body = nil
	}
	return &http.Response{
		Status:        strconv.Itoa(status) + " " + http.StatusText(status),
		StatusCode:    status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        h,
		Body:          io.NopCloser(bytes.NewReader(body)),
		ContentLength: int64(len(body)),
		Request:       r,
	}, nil
}
