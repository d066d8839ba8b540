package oauth

import (
	"fmt"
	"net"
	"net/url"
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

// ValidateRedirectURI checks a redirect URI for registration (RFC 6749
// §3.1.2, RFC 9700 §2.1): absolute, no fragment, https or a loopback http
// URI, or a private-use scheme for native apps (RFC 8252 §7.1).
func ValidateRedirectURI(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() {
		return fmt.Errorf("redirect URI %q is not an absolute URI", raw)
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		return fmt.Errorf("redirect URI %q must not contain a fragment", raw)
	}
	if u.Scheme == "http" && !isLoopbackHost(u.Hostname()) {
		return fmt.Errorf("redirect URI %q must use https (plain http only on loopback)", raw)
	}
	if (u.Scheme == "http" || u.Scheme == "https") && u.Host == "" {
		return fmt.Errorf("redirect URI %q has no host", raw)
	}
	return nil
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
