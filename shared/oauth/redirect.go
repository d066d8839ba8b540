package oauth

import (
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
)

// isLoopbackHost reports whether host is a loopback name or address.
func isLoopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// matchRedirectURI picks the redirect URI for an authorization request
// (RFC 6749 §3.1.2.3): an omitted parameter means the only registered URI;
// a given one must equal a registered one exactly, except that loopback
// URIs (http://127.0.0.1:{port}, http://[::1]:{port}) match on any port
// (RFC 8252 §7.3). It returns "" when nothing matches.
func matchRedirectURI(client *Client, given string) string {
	if given == "" {
		if len(client.RedirectURIs) == 1 {
			return client.RedirectURIs[0]
		}
		return ""
	}
	for _, registered := range client.RedirectURIs {
		if given == registered || loopbackMatch(registered, given) {
			return given
		}
	}
	return ""
}

// loopbackMatch compares two URIs ignoring the port, when the registered one
// is an http URI on a loopback IP literal (RFC 8252 §7.3; "localhost" is not
// covered, §8.3).
func loopbackMatch(registered, given string) bool {
	r, err1 := url.Parse(registered)
	g, err2 := url.Parse(given)
	if err1 != nil || err2 != nil || r.Scheme != "http" || g.Scheme != "http" {
		return false
	}
	host := r.Hostname()
	if (host != "127.0.0.1" && host != "::1") || g.Hostname() != host {
		return false
	}
	return r.User == nil && g.User == nil && r.EscapedPath() == g.EscapedPath() &&
		r.RawQuery == g.RawQuery && g.Fragment == "" && !strings.Contains(given, "#")
}

// MaxRedirectURIBytes bounds a redirect URI at registration, so that the
// response to any authorization request fits in MaxRedirectBytes with room
// for its state.
const MaxRedirectURIBytes = 2 << 10

// refusedSchemes are the schemes a browser runs or reads locally instead of
// sending the response to a client: a javascript:, vbscript: or data:
// redirect runs the response as a script in the page's origin (RFC 6749
// §10.6, §10.15; RFC 9700 §4.1). They are named so that the message says
// why; the rule below would refuse them anyway (no dot in the name).
var refusedSchemes = []string{"javascript", "data", "vbscript", "file", "blob", "about"}

// ValidateRedirectURI checks a redirect URI for registration (RFC 6749
// §3.1.2; RFC 9700 §2.1; RFC 8252 §7): an absolute URI without a fragment
// (§3.1.2), at most MaxRedirectURIBytes long, that is one of
//
//   - https, with a host;
//   - http on a loopback host, for native apps (RFC 8252 §7.3; "localhost"
//     is allowed but not recommended, §8.3);
//   - a private-use scheme in reverse domain name form, with a dot in its
//     name, such as com.example.app:/cb (RFC 8252 §7.1).
//
// Anything else is refused, javascript:, data:, vbscript:, file:, blob:
// and about: above all. The authorization endpoint applies the same check
// to the URI a response would go to, so a client stored before the rule
// never gets a redirect to such a URI.
func ValidateRedirectURI(raw string) error {
	if len(raw) > MaxRedirectURIBytes {
		return fmt.Errorf("redirect URI is longer than %d characters", MaxRedirectURIBytes)
	}
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() {
		return fmt.Errorf("redirect URI %q is not an absolute URI", raw)
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		return fmt.Errorf("redirect URI %q must not contain a fragment", raw)
	}
	switch scheme := u.Scheme; { // url.Parse lower-cases the scheme
	case slices.Contains(refusedSchemes, scheme):
		return fmt.Errorf("redirect URI %q has the scheme %s:, which the browser would run or read itself instead of sending the response to the client", raw, scheme)
	case scheme == "http" && !isLoopbackHost(u.Hostname()):
		return fmt.Errorf("redirect URI %q must use https (plain http only on loopback)", raw)
	case (scheme == "http" || scheme == "https") && u.Host == "":
		return fmt.Errorf("redirect URI %q has no host", raw)
	case scheme != "http" && scheme != "https" && !strings.Contains(scheme, "."):
		return fmt.Errorf("redirect URI %q must use https, http on loopback, or a private-use scheme named "+
			"after a domain the app owns, such as com.example.app:/callback (RFC 8252 §7.1)", raw)
	}
	return nil
}

// Size bounds of the authorization endpoint. A response that a client
// cannot read is no response: common HTTP clients refuse long headers
// (Node's fetch fails at 16 KB of them), and API Gateway would not deliver
// a request much larger.
const (
	// MaxAuthorizeRequestBytes bounds an authorization request (RFC 6749
	// §4.1.1, §4.2.1): the authorization endpoint's URL with the request's
	// parameters as its query, encoded as Gatehouse writes them back (the
	// login's redirect, the pages' forms). A larger request is shown the
	// error page, never redirected.
	MaxAuthorizeRequestBytes = 8 << 10
	// MaxRedirectBytes bounds every redirect URL the authorization endpoint
	// answers with (the Location header): a request whose response to the
	// client could be longer is refused up front.
	MaxRedirectBytes = 8 << 10
)

// The room a response to the client needs besides its redirect URI, state
// and iss: a code (43 characters) or an error with its description (at
// most maxRedirectDescription bytes, up to three times that escaped), and
// for the implicit grant an access token with its scope.
const (
	maxRedirectDescription  = 200
	redirectReserve         = 1 << 10
	implicitRedirectReserve = 4 << 10
	// idTokenRedirectReserve is the room of an ID token from the
	// authorization endpoint (OpenID Connect Core §3.2.2.5, §3.3.2.5), its
	// nonce (at most MaxNonceBytes) and user claims, with an access token
	// or a code.
	idTokenRedirectReserve = 6 << 10
)

// responseFits reports whether a response to redirect carrying state fits
// in MaxRedirectBytes, whatever else it carries (redirectReserve).
func (s *Server) responseFits(redirect, state, responseType string) bool {
	reserve := redirectReserve
	switch CanonicalResponseType(responseType) {
	case ResponseTypeToken:
		reserve = implicitRedirectReserve
	case ResponseTypeIDToken, ResponseTypeIDTokenToken, ResponseTypeCodeIDToken:
		reserve = idTokenRedirectReserve
	}
	n := len(redirect) + len("?state=") + len(url.QueryEscape(state)) + len("&iss=") + len(url.QueryEscape(s.cfg.Issuer))
	return n+reserve <= MaxRedirectBytes
}

// appendParams adds params to the query (§4.1.2) or, when inFragment, the
// fragment (§4.2.2) of a redirect URI, keeping its existing query.
func appendParams(redirectURI string, params url.Values, inFragment bool) string {
	if inFragment {
		return redirectURI + "#" + params.Encode()
	}
	sep := "?"
	if strings.Contains(redirectURI, "?") {
		sep = "&"
	}
	return redirectURI + sep + params.Encode()
}
