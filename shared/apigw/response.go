package apigw

import (
	"encoding/base64"
	"mime"
	"net/http"
	"net/textproto"
	"strings"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
)

// newResponse converts a buffered handler response to the HTTP API payload
// format 2.0 response:
//
//   - Set-Cookie values go into Cookies, one cookie per entry, never into
//     Headers: a Set-Cookie field cannot be comma-joined (RFC 6265 §3,
//     RFC 9110 §5.3), and API Gateway emits one set-cookie header per entry.
//   - Every other field's values are joined with ", " (RFC 9110 §5.3).
//   - The body is sent as text when its Content-Type is textual and it is
//     valid UTF-8 (the event is JSON, whose strings are Unicode); otherwise
//     it is base64-encoded with IsBase64Encoded set.
//
// As net/http does, a missing Content-Type is sniffed from the body
// (http.DetectContentType) unless the handler suppressed it by setting the
// header key to nil or set a Content-Encoding. A HEAD answer keeps its
// headers and drops its body (RFC 9110 §9.3.2).
func newResponse(method string, status int, h http.Header, body []byte) events.APIGatewayV2HTTPResponse {
	if method == http.MethodHead {
		body = nil
	}
	if _, set := h["Content-Type"]; !set && len(body) > 0 && h.Get("Content-Encoding") == "" {
		h.Set("Content-Type", http.DetectContentType(body))
	}

	resp := events.APIGatewayV2HTTPResponse{
		StatusCode: status,
		Headers:    make(map[string]string, len(h)),
	}
	for k, vs := range h {
		if len(vs) == 0 {
			continue
		}
		if textproto.CanonicalMIMEHeaderKey(k) == "Set-Cookie" {
			resp.Cookies = append(resp.Cookies, vs...)
			continue
		}
		resp.Headers[k] = strings.Join(vs, ", ")
	}

	if len(body) == 0 {
		return resp
	}
	if isText(h.Get("Content-Type")) && utf8.Valid(body) {
		resp.Body = string(body)
	} else {
		resp.Body = base64.StdEncoding.EncodeToString(body)
		resp.IsBase64Encoded = true
	}
	return resp
}

// isText reports whether a Content-Type (RFC 9110 §8.3) names a textual
// body: text/*, JSON (RFC 8259) and its +json structured syntax suffix
// (RFC 6839 §3.1), XML and +xml (RFC 7303), form encoding, JavaScript
// (RFC 9239), or any type with a charset parameter.
func isText(contentType string) bool {
	if contentType == "" {
		return false
	}
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		// Unparseable parameters: judge by the media type alone.
		mt, _, _ = strings.Cut(contentType, ";")
		mt = strings.ToLower(strings.TrimSpace(mt))
		params = nil
	}
	if _, ok := params["charset"]; ok {
		return true
	}
	typ, sub, _ := strings.Cut(mt, "/")
	switch {
	case typ == "text":
		return true
	case sub == "xml", strings.HasSuffix(sub, "+xml"):
		return true
	case typ != "application":
		return false
	}
	switch sub {
	case "json", "x-www-form-urlencoded", "javascript":
		return true
	}
	return strings.HasSuffix(sub, "+json")
}
