package httpapi

import "strings"

// writePage writes page name (one of the page* constants) with data: the
// layout around the page's content. The markup is what the pages'
// templates were; every value is escaped by escapeHTML, and every value
// sits in element text or a double-quoted attribute, where that escaping
// is complete.
func writePage(b *strings.Builder, name string, d *pageData) {
	b.WriteString("<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n" +
		"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n" +
		"<meta name=\"referrer\" content=\"same-origin\">\n<title>")
	b.WriteString(escapeHTML(d.Title))
	b.WriteString(" · Gatehouse</title>\n<style>")
	b.WriteString(stylesheet) // trusted, and allowed by its hash
	b.WriteString("</style>\n</head>\n<body>\n<main class=\"card\">\n<p class=\"brand\" aria-hidden=\"true\">Gatehouse</p>\n")
	switch name {
	case pageLogin:
		writeLoginPage(b, d)
	case pageConsent:
		writeConsentPage(b, d)
	case pageError:
		writeErrorPage(b, d)
	case pageLogout:
		writeLogoutPage(b, d)
	case pageSignedOut:
		b.WriteString("\n<h1>You are signed out</h1>\n<p class=\"lead\">You can close this window.</p>\n")
	default:
		panic("httpapi: unknown page " + name)
	}
	b.WriteString("\n</main>\n</body>\n</html>")
}

func writeLoginPage(b *strings.Builder, d *pageData) {
	b.WriteString("\n<h1>Sign in</h1>\n<p class=\"lead\">to continue to <strong>")
	b.WriteString(escapeHTML(d.ClientName))
	b.WriteString("</strong></p>\n")
	if d.Error != "" {
		b.WriteString("<p class=\"alert\" role=\"alert\">")
		b.WriteString(escapeHTML(d.Error))
		b.WriteString("</p>")
	}
	b.WriteString("\n")
	writeFormStart(b, d, "", "login")
	b.WriteString("<label for=\"username\">Username</label>\n" +
		"<input id=\"username\" name=\"username\" type=\"text\" autocomplete=\"username\" autocapitalize=\"none\" spellcheck=\"false\" required autofocus>\n" +
		"<label for=\"password\">Password</label>\n" +
		"<input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" required>\n" +
		"<button type=\"submit\" class=\"primary\">Sign in</button>\n</form>\n")
}

func writeConsentPage(b *strings.Builder, d *pageData) {
	name := escapeHTML(d.ClientName)
	b.WriteString("\n<h1>Allow <strong>" + name + "</strong> to access your account?</h1>\n" +
		"<p class=\"lead\">Signed in as <strong>" + escapeHTML(d.Username) + "</strong>" +
		" · <a href=\"" + escapeURL(d.SwitchAccount) + "\">Not you?</a></p>\n")
	writeClientLinks(b, d)
	if len(d.Scopes) > 0 {
		b.WriteString("\n<p>" + name + " is asking to:</p>\n<ul class=\"scopes\">\n")
		for _, s := range d.Scopes {
			// The words first; the scope's name, for the curious, after.
			if s.Description != "" {
				b.WriteString("<li>" + escapeHTML(s.Description) + " <code>" + escapeHTML(s.Name) + "</code></li>\n")
			} else {
				b.WriteString("<li><code>" + escapeHTML(s.Name) + "</code></li>\n")
			}
		}
		b.WriteString("</ul>\n")
	} else {
		b.WriteString("<p>" + name + " is asking for basic access to your account.</p>")
	}
	b.WriteString("\n")
	writeFormStart(b, d, ` class="actions"`, "consent")
	b.WriteString("<button type=\"submit\" name=\"decision\" value=\"deny\" class=\"secondary\">Deny</button>\n" +
		"<button type=\"submit\" name=\"decision\" value=\"allow\" class=\"primary\">Allow</button>\n</form>\n")
}

// writeClientLinks lists the client's registered home page and logo as
// text links: nothing is loaded from the client's servers (the CSP allows
// no other origin), and a link shows where it leads before it is
// followed.
func writeClientLinks(b *strings.Builder, d *pageData) {
	if d.ClientURI == "" && d.LogoURI == "" {
		return
	}
	b.WriteString("<p class=\"hint\">")
	if d.ClientURI != "" {
		b.WriteString("Website: <a href=\"" + escapeURL(d.ClientURI) + "\" rel=\"noopener noreferrer\">" +
			escapeHTML(d.ClientURI) + "</a>")
	}
	if d.LogoURI != "" {
		if d.ClientURI != "" {
			b.WriteString("<br>")
		}
		b.WriteString("Logo: <a href=\"" + escapeURL(d.LogoURI) + "\" rel=\"noopener noreferrer\">" +
			escapeHTML(d.LogoURI) + "</a>")
	}
	b.WriteString("</p>\n")
}

// writeFormStart writes the opening of the login and consent forms: the
// form tag and the hidden action, request and CSRF fields.
func writeFormStart(b *strings.Builder, d *pageData, attrs, action string) {
	b.WriteString("<form method=\"post\" action=\"" + escapeURL(d.FormAction) + "\"" + attrs + ">\n" +
		"<input type=\"hidden\" name=\"gh_action\" value=\"" + action + "\">\n" +
		"<input type=\"hidden\" name=\"gh_request\" value=\"" + escapeHTML(d.Request) + "\">\n" +
		"<input type=\"hidden\" name=\"gh_csrf\" value=\"" + escapeHTML(d.CSRF) + "\">\n")
}

func writeErrorPage(b *strings.Builder, d *pageData) {
	b.WriteString("\n<h1>We could not continue</h1>\n<p class=\"alert\" role=\"alert\">")
	if d.Error != "" {
		b.WriteString(escapeHTML(d.Error))
	} else {
		b.WriteString("The request could not be completed.")
	}
	b.WriteString("</p>\n<p class=\"hint\">Go back to the application and try again. " +
		"If this keeps happening, tell its support team this code: <code>" + escapeHTML(d.ErrorCode) + "</code></p>\n")
}

func writeLogoutPage(b *strings.Builder, d *pageData) {
	b.WriteString("\n<h1>Sign out?</h1>\n<form method=\"post\" action=\"" + escapeURL(d.FormAction) + "\">\n" +
		"<input type=\"hidden\" name=\"gh_csrf\" value=\"" + escapeHTML(d.CSRF) + "\">\n" +
		"<button type=\"submit\" class=\"primary\">Sign out</button>\n</form>\n")
}

// htmlEscaper escapes as html/template does in element text and quoted
// attribute values: the five HTML special characters, "+" (which UTF-7
// sniffing could read as markup), and NUL.
var htmlEscaper = strings.NewReplacer(
	"\x00", "\uFFFD",
	`"`, "&#34;",
	"&", "&amp;",
	"'", "&#39;",
	"+", "&#43;",
	"<", "&lt;",
	">", "&gt;",
)

// escapeHTML escapes s for element text or a double-quoted attribute
// value.
func escapeHTML(s string) string { return htmlEscaper.Replace(s) }

// escapeURL escapes s for a double-quoted URL attribute as html/template
// does: a URL whose scheme is not http, https or mailto is replaced by
// "#ZgotmplZ"; bytes a URL may not hold are percent-encoded (RFC 3986
// §2), existing escapes kept; then the result is HTML-escaped.
func escapeURL(s string) string {
	if scheme, _, ok := strings.Cut(s, ":"); ok && !strings.Contains(scheme, "/") {
		switch strings.ToLower(scheme) {
		case "http", "https", "mailto":
		default:
			return "#ZgotmplZ"
		}
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			strings.IndexByte("!#$&*+,/:;=?@[]-._~%", c) >= 0:
			b.WriteByte(c)
		default:
			b.WriteString("%" + string("0123456789abcdef"[c>>4]) + string("0123456789abcdef"[c&15]))
		}
	}
	return escapeHTML(b.String())
}
