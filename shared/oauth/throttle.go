package oauth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Login throttling limits password guessing at the sign-in page and the
// password grant (RFC 6749 §10.10, credentials-guessing attacks): failed attempts are counted per username and per source
// address in fixed windows of Config.LoginFailureWindow, in the store
// (expiring with the window, so DynamoDB's TTL cleans them up). Once a
// count reaches its limit, every attempt with that username, or from that
// address, is refused until the window ends, without checking the
// password.
//
// The counters are keyed by the username as typed, whether or not such a
// user exists, and a refusal reads the same for both: the limit reveals
// nothing about which usernames exist. Unknown usernames cost the same
// password-hash work as known ones (PasswordChecker.DummyCheck).
//
// A per-username limit lets anyone lock a user out for one window by
// guessing at the username; the per-address limit alone would let a
// distributed attacker guess freely. Gatehouse takes the lockout (short:
// one window) as the lesser risk, like Cognito and Keycloak.

// ErrLoginThrottled is returned by Login and the password grant while a
// username or source address is over its failed-login limit. It wraps into
// a *ThrottledError with the time the refusal ends.
var ErrLoginThrottled = errors.New("oauth: too many failed sign-in attempts")

// ThrottledError says until when logins are refused, and how long that is
// from now (by the server's clock).
type ThrottledError struct {
	Until      time.Time
	RetryAfter time.Duration
}

func (e *ThrottledError) Error() string {
	return fmt.Sprintf("%v: refused until %s", ErrLoginThrottled, e.Until.UTC().Format(time.RFC3339))
}

// Is makes errors.Is(err, ErrLoginThrottled) hold.
func (e *ThrottledError) Is(target error) bool { return target == ErrLoginThrottled }

// loginKeys returns the counter keys of a login attempt in the current
// window, and the window's end: one for the username (lower-cased and
// hashed: the store holds no usernames in clear), one for the source
// address if known (an IPv6 address counts by its /64, which one host
// usually owns whole).
func (s *Server) loginKeys(username, remoteAddr string) (keys []string, windowEnd time.Time) {
	window := s.cfg.LoginFailureWindow
	start := s.now().Truncate(window)
	suffix := "#" + strconv.FormatInt(start.Unix(), 10)
	sum := sha256.Sum256([]byte(strings.ToLower(strings.TrimSpace(username))))
	keys = []string{"login#user#" + hex.EncodeToString(sum[:16]) + suffix}
	if addr := sourcePrefix(remoteAddr); addr != "" {
		keys = append(keys, "login#ip#"+addr+suffix)
	}
	return keys, start.Add(window)
}

// sourcePrefix returns the address a login is counted by: an IPv4
// address, or an IPv6 address's /64; "" if remoteAddr ("ip" or "ip:port")
// is not an address.
func sourcePrefix(remoteAddr string) string {
	ap, err := netip.ParseAddrPort(remoteAddr)
	addr := ap.Addr()
	if err != nil {
		if addr, err = netip.ParseAddr(remoteAddr); err != nil {
			return ""
		}
	}
	addr = addr.Unmap()
	if addr.Is6() {
		p, _ := addr.Prefix(64)
		return p.String()
	}
	return addr.String()
}

// checkThrottle refuses an attempt whose username or address is over its
// limit in the current window. It returns the counts.
func (s *Server) checkThrottle(ctx context.Context, keys []string, windowEnd time.Time) (map[string]int, error) {
	counts, err := s.store.LoginFailures(ctx, keys...)
	if err != nil {
		return nil, ErrServer(err)
	}
	limits := []int{s.cfg.LoginMaxFailures, s.cfg.LoginMaxFailuresPerIP}
	for i, key := range keys {
		if counts[key] >= limits[i] {
			return nil, &ThrottledError{Until: windowEnd, RetryAfter: windowEnd.Sub(s.now())}
		}
	}
	return counts, nil
}

// authenticate checks a username and password under the throttle: refused
// while over the limit, each failure counted, the username's count cleared
// on success.
func (s *Server) authenticate(ctx context.Context, username, password, remoteAddr string) (*User, error) {
	if s.passwords == nil {
		return nil, ErrServer(errNoPasswords)
	}
	keys, windowEnd := s.loginKeys(username, remoteAddr)
	counts, err := s.checkThrottle(ctx, keys, windowEnd)
	if err != nil {
		return nil, err
	}
	user, err := s.checkUser(ctx, username, password)
	switch {
	case errors.Is(err, ErrLoginFailed):
		if err := s.store.AddLoginFailure(ctx, windowEnd, keys...); err != nil {
			return nil, ErrServer(err)
		}
		return nil, ErrLoginFailed
	case err != nil:
		return nil, err
	}
	if counts[keys[0]] > 0 {
		if err := s.store.ClearLoginFailures(ctx, keys[0]); err != nil {
			return nil, ErrServer(err)
		}
	}
	return user, nil
}
