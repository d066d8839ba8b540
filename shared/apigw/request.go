package apigw

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"io"
	"net"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"

	"github.com/aws/aws-lambda-go/events"
)

// errBadBody reports a body flagged isBase64Encoded that is not valid
// standard base64 (RFC 4648 §4). It is the client's fault: the caller
// answers 400.
var errBadBody = errors.New("apigw: request body is not valid base64")

// newRequest builds the server-side *http.Request that net/http would have
// produced for the request API Gateway received, from an HTTP API payload
// format 2.0 event. Its context is ctx (the Lambda invocation context).
//
//   - Method: requestContext.http.method.
//   - URL: rawPath and rawQueryString only; queryStringParameters is ignored
//     because it comma-joins repeated parameters, which OAuth endpoints must
//     detect (RFC 6749 §3.1, §3.2).
//   - Body: decoded from base64 when isBase64Encoded (errBadBody if invalid).
//   - Header: copied with canonical keys; values API Gateway comma-joined
//     stay joined, which is valid for list-based fields (RFC 9110 §5.3).
//   - Cookie: the cookies array joined with "; " into one Cookie header
//     (RFC 6265 §5.4).
//   - Host: the Host header, else requestContext.domainName.
//   - RemoteAddr: requestContext.http.sourceIp as "ip:0" (port unknown).
//   - TLS: non-nil, since HTTP APIs only accept HTTPS; handlers may test
//     r.TLS != nil as they would behind net/http's TLS server.
func newRequest(ctx context.Context, e *events.APIGatewayV2HTTPRequest) (*http.Request, error) {
	body, err := decodeBody(e)
	if err != nil {
		return nil, err
	}

	method := e.RequestContext.HTTP.Method
	if method == "" {
		method = http.MethodGet
	}

	u := requestURL(e)

	header := make(http.Header, len(e.Headers)+1)
	for k, v := range e.Headers {
		ck := textproto.CanonicalMIMEHeaderKey(k)
		header[ck] = append(header[ck], v)
	}
	if len(e.Cookies) > 0 {
		// In format 2.0 the cookies array replaces the Cookie header.
		header["Cookie"] = []string{strings.Join(e.Cookies, "; ")}
	}

	// net/http moves Host out of Header into Request.Host; do the same.
	host := header.Get("Host")
	header.Del("Host")
	if host == "" {
		host = e.RequestContext.DomainName
	}

	proto := e.RequestContext.HTTP.Protocol
	major, minor, ok := http.ParseHTTPVersion(proto)
	if !ok {
		proto, major, minor = "HTTP/1.1", 1, 1
	}

	var rc io.ReadCloser = http.NoBody
	if len(body) > 0 {
		rc = io.NopCloser(bytes.NewReader(body))
	}

	r := &http.Request{
		Method:        method,
		URL:           u,
		Proto:         proto,
		ProtoMajor:    major,
		ProtoMinor:    minor,
		Header:        header,
		Body:          rc,
		ContentLength: int64(len(body)),
		Host:          host,
		RemoteAddr:    remoteAddr(e.RequestContext.HTTP.SourceIP),
		RequestURI:    u.RequestURI(),
		TLS:           &tls.ConnectionState{},
	}
	if len(body) > 0 {
		r.GetBody = func() (io.ReadCloser, error) {
			return io.NopCloser(bytes.NewReader(body)), nil
		}
	}
	return r.WithContext(ctx), nil
}

// decodeBody returns the request body bytes, base64-decoding them when
// the event says so.
func decodeBody(e *events.APIGatewayV2HTTPRequest) ([]byte, error) {
	if !e.IsBase64Encoded {
		return []byte(e.Body), nil
	}
	b, err := base64.StdEncoding.DecodeString(e.Body)
	if err != nil {
		return nil, errBadBody
	}
	return b, nil
}

// requestURL returns the origin-form request target (RFC 9112 §3.2.1) as
// a server-side *url.URL: path from rawPath (requestContext.http.path as a
// fallback), query verbatim from rawQueryString.
func requestURL(e *events.APIGatewayV2HTTPRequest) *url.URL {
	p := e.RawPath
	if p == "" {
		p = e.RequestContext.HTTP.Path
	}
	if p == "" || p[0] != '/' {
		p = "/" + p
	}
	u, err := url.ParseRequestURI(p)
	if err != nil || u.RawQuery != "" || u.Fragment != "" || u.Host != "" {
		// Not a clean escaped path: keep it as a literal path and let
		// url.URL escape it.
		u = &url.URL{Path: p}
	}
	u.RawQuery = e.RawQueryString
	u.ForceQuery = false
	return u
}

// remoteAddr formats the client IP as host:port so net.SplitHostPort
// works on it; API Gateway does not report the client port, so it is 0.
func remoteAddr(ip string) string {
	if ip == "" {
		return ""
	}
	return net.JoinHostPort(ip, "0")
}
