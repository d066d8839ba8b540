package app

import (
	"net/mail"
	"net/url"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gatehouse/gatehouse/shared/oauth"
)

// MaxClaimBytes bounds one claim's value: a user's claims are stored on
// its record (one DynamoDB item, at most 400 KB) and released in ID tokens
// and UserInfo responses.
const MaxClaimBytes = 1024

var (
	// phonePattern is E.164-like (OpenID Connect Core 1.0 §5.1
	// phone_number: "E.164 is RECOMMENDED as the format of this Claim"):
	// "+", then 1 to 15 digits, with an optional ";ext=" extension (RFC 3966).
	phonePattern = regexp.MustCompile(`^\+[1-9][0-9]{0,14}(;ext=[0-9]{1,10})?$`)
	// localePattern is a BCP 47 language tag of the common shapes (§5.1
	// locale: "represented as a BCP47 [RFC5646] language tag"): a language,
	// then optional script, region and variant subtags, joined by "-"
	// (the "_" that some systems use is refused: §5.1 asks for "-").
	localePattern = regexp.MustCompile(`^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*$`)
	// zonePattern is the shape of an IANA time zone name, used when the
	// time zone database is not available to time.LoadLocation.
	zonePattern = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_+\-]*(/[A-Za-z0-9_+\-]+)*$`)
	// birthdatePattern is §5.1 birthdate: "ISO 8601-1 YYYY-MM-DD format.
	// The year MAY be 0000, indicating that it is omitted. To represent
	// only the year, YYYY format is allowed."
	birthdatePattern = regexp.MustCompile(`^[0-9]{4}(-[0-9]{2}-[0-9]{2})?$`)
)

// ValidateClaims checks a user's OpenID Connect standard claims (OpenID
// Connect Core 1.0 §5.1, address §5.1.1) and returns every problem it
// finds, each naming its claim (address members as "address.country").
// The seed and `gatehouse users create|update` validate with it.
//
//   - every value: at most MaxClaimBytes, valid UTF-8, no control
//     characters or surrounding spaces (address.formatted and
//     address.street_address may have line breaks, §5.1.1);
//   - email: an addr-spec (RFC 5322 §3.4.1), without a display name;
//   - profile, picture, website: absolute http or https URLs;
//   - phone_number: E.164, "+" and digits (e.g. +14155550100);
//   - locale: a BCP 47 language tag with "-" (en-US);
//   - zoneinfo: a name in the IANA time zone database (Europe/Paris);
//   - birthdate: YYYY-MM-DD (year 0000 when omitted) or YYYY, a real date;
//   - updated_at: not negative (the server sets it when claims change).
func ValidateClaims(c *oauth.UserClaims) []FieldError {
	var v fieldErrors
	if c == nil {
		return nil
	}
	text := func(field, s string, multiline bool) bool {
		switch {
		case s == "":
			return false
		case len(s) > MaxClaimBytes:
			v.fail(field, "is longer than %d bytes", MaxClaimBytes)
		case !utf8.ValidString(s):
			v.fail(field, "is not valid UTF-8")
		case multiline && !cleanText(strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", " "), "\n", " ")),
			!multiline && !cleanText(s):
			v.fail(field, "%q must not have control characters or surrounding spaces", s)
		default:
			return true
		}
		return false
	}
	for _, f := range []struct{ name, value string }{
		{"name", c.Name}, {"given_name", c.GivenName}, {"family_name", c.FamilyName},
		{"middle_name", c.MiddleName}, {"nickname", c.Nickname},
		{"preferred_username", c.PreferredUsername}, {"gender", c.Gender},
	} {
		text(f.name, f.value, false)
	}
	for _, f := range []struct{ name, value string }{
		{"profile", c.Profile}, {"picture", c.Picture}, {"website", c.Website},
	} {
		if text(f.name, f.value, false) {
			if u, err := url.Parse(f.value); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				v.fail(f.name, "%q must be an absolute http or https URL", f.value)
			}
		}
	}
	if text("email", c.Email, false) {
		if a, err := mail.ParseAddress(c.Email); err != nil || a.Address != c.Email || a.Name != "" {
			v.fail("email", "%q is not an email address (name@example.com)", c.Email)
		}
	}
	if text("phone_number", c.PhoneNumber, false) && !phonePattern.MatchString(c.PhoneNumber) {
		v.fail("phone_number", "%q must be in E.164 format: + and the digits, e.g. +14155550100", c.PhoneNumber)
	}
	if text("locale", c.Locale, false) && !localePattern.MatchString(c.Locale) {
		v.fail("locale", "%q must be a BCP 47 language tag, e.g. en-US", c.Locale)
	}
	if text("zoneinfo", c.Zoneinfo, false) && !validZone(c.Zoneinfo) {
		v.fail("zoneinfo", "%q is not an IANA time zone name, e.g. Europe/Paris", c.Zoneinfo)
	}
	if text("birthdate", c.Birthdate, false) && !validBirthdate(c.Birthdate) {
		v.fail("birthdate", "%q must be YYYY-MM-DD (0000-MM-DD without the year) or YYYY", c.Birthdate)
	}
	if c.UpdatedAt < 0 {
		v.fail("updated_at", "must not be negative")
	}
	if a := c.Address; a != nil {
		text("address.formatted", a.Formatted, true)
		text("address.street_address", a.StreetAddress, true)
		text("address.locality", a.Locality, false)
		text("address.region", a.Region, false)
		text("address.postal_code", a.PostalCode, false)
		text("address.country", a.Country, false)
	}
	return v
}

// validZone reports whether name is an IANA time zone name: one
// time.LoadLocation finds when the database is available (on Lambda it
// may not be), else one of the right shape. "Local" and "UTC" are
// LoadLocation's own names; "UTC" is also an IANA name.
func validZone(name string) bool {
	if name == "Local" || !zonePattern.MatchString(name) {
		return false
	}
	if _, err := time.LoadLocation(name); err == nil {
		return true
	}
	// No database at all: the shape is all that can be checked.
	_, err := time.LoadLocation("Europe/Paris")
	return err != nil
}

// validBirthdate applies §5.1 birthdate: YYYY, or YYYY-MM-DD naming a
// real day (0000 for an omitted year, checked against a leap year).
func validBirthdate(s string) bool {
	if !birthdatePattern.MatchString(s) {
		return false
	}
	if len(s) == 4 {
		return true
	}
	if strings.HasPrefix(s, "0000-") {
		s = "2000" + s[4:]
	}
	_, err := time.Parse(time.DateOnly, s)
	return err == nil
}

// normalizedClaims returns c, or nil when no claim is set.
func normalizedClaims(c oauth.UserClaims) *oauth.UserClaims {
	if c.Address != nil && *c.Address == (oauth.Address{}) {
		c.Address = nil
	}
	if c.IsZero() {
		return nil
	}
	return &c
}

// StampClaims sets updated_at on claims (OpenID Connect Core 1.0 §5.1:
// "Time the End-User's information was last updated") from old, the
// claims stored before: unchanged claims keep old's updated_at, changed
// ones get now. A claims value that sets updated_at itself keeps it.
// It returns nil when no claim is set.
func StampClaims(claims, old *oauth.UserClaims, now time.Time) *oauth.UserClaims {
	if claims == nil {
		return nil
	}
	c := normalizedClaims(*claims.Clone())
	if c == nil || c.UpdatedAt != 0 {
		return c
	}
	if old != nil {
		prev := *old.Clone()
		prev.UpdatedAt = 0
		if sameClaims(c, &prev) {
			c.UpdatedAt = old.UpdatedAt
			return c
		}
	}
	c.UpdatedAt = now.Unix()
	return c
}

func sameClaims(a, b *oauth.UserClaims) bool {
	x, y := *a, *b
	if (x.EmailVerified == nil) != (y.EmailVerified == nil) || x.EmailVerified != nil && *x.EmailVerified != *y.EmailVerified {
		return false
	}
	if (x.PhoneNumberVerified == nil) != (y.PhoneNumberVerified == nil) || x.PhoneNumberVerified != nil && *x.PhoneNumberVerified != *y.PhoneNumberVerified {
		return false
	}
	if (x.Address == nil) != (y.Address == nil) || x.Address != nil && *x.Address != *y.Address {
		return false
	}
	x.EmailVerified, y.EmailVerified, x.PhoneNumberVerified, y.PhoneNumberVerified, x.Address, y.Address = nil, nil, nil, nil, nil, nil
	return x == y
}
