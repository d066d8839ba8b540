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
// password grant (RFC 6749 §10.10, credentials-guessing attacks; RFC 6749
// §4.3.2: the password grant "MUST protect the endpoint against brute
// force attacks"). Attempts are counted per username and per source
// address in fixed windows of Config.LoginFailureWindow, in the store
// (expiring with the window, so DynamoDB's TTL cleans them up).
//
// An attempt is counted before its password is checked, with one atomic
// store operation per counter (Store.CountLoginAttempt) that refuses once
// the counter is at its limit: the address's counter first, then the
// username's. So however many attempts arrive at once, at most
// LoginMaxFailures passwords are checked per username, and at most
// LoginMaxFailuresPerIP per address, in a window; the others are refused
// without a check, and the refusal lasts until the window ends. A refused
// attempt changes nothing that made it refused: a counter at its limit
// is neither counted up nor extended, so no one can lock a username or an
// address out for longer than the rest of the current window. An
// attempt refused for its address leaves the username's counter alone (an
// address over its limit cannot go on locking usernames out); one refused
// for its username still counts against its address.
//
// A failed attempt stays counted. A successful one clears its username's
// counter (a user who mistyped a few times is not left closer to a
// lockout) and is taken back from its address's counter: the per-address
// limit counts failures only, so that many users behind one address (or a
// backend making password grants for many users) are not refused for
// signing in. Its username's count starts again after each success, so an
// attacker guessing at a username alongside its user's own sign-ins gets
// at most LoginMaxFailures checks between two of them. An attempt that
// never reaches a password check (the store failed) is taken back from
// both counters.
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

// loginCounters returns the counters of a login attempt in the current
// window, and the window's end: the source address's first if the
// address is known (an IPv6 address counts by its /64, which one host
// usually owns whole), then the username's (lower-cased and hashed: the
// store holds no usernames in clear), which is always last.
func (s *Server) loginCounters(username, remoteAddr string) (counters []LoginCounter, windowEnd time.Time) {
	window := s.cfg.LoginFailureWindow
	start := s.now().Truncate(window)
	suffix := "#" + strconv.FormatInt(start.Unix(), 10)
	if addr := sourcePrefix(remoteAddr); addr != "" {
		counters = append(counters, LoginCounter{Key: "login#ip#" + addr + suffix, Limit: s.cfg.LoginMaxFailuresPerIP})
	}
	sum := sha256.Sum256([]byte(strings.ToLower(strings.TrimSpace(username))))
	counters = append(counters, LoginCounter{Key: "login#user#" + hex.EncodeToString(sum[:16]) + suffix, Limit: s.cfg.LoginMaxFailures})
	return counters, start.Add(window)
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

// authenticate checks a username and password under the throttle: the
// attempt counted first, refused unchecked if a counter is at its limit;
// a failure stays counted; a success clears the username's counter and
// is taken back from the address's.
func (s *Server) authenticate(ctx context.Context, username, password, remoteAddr string) (*User, error) {
	if s.passwords == nil {
		return nil, ErrServer(errNoPasswords)
	}
	counters, windowEnd := s.loginCounters(username, remoteAddr)
	ok, err := s.store.CountLoginAttempt(ctx, windowEnd, counters...)
	if err != nil {
		return nil, ErrServer(err)
	}
	if !ok {
		return nil, &ThrottledError{Until: windowEnd, RetryAfter: windowEnd.Sub(s.now())}
	}
	userKey := counters[len(counters)-1].Key
	var addrKeys []string
	for _, c := range counters[:len(counters)-1] {
		addrKeys = append(addrKeys, c.Key)
	}
	user, err := s.checkUser(ctx, username, password)
	switch {
	case errors.Is(err, ErrLoginFailed):
		return nil, ErrLoginFailed
	case err != nil:
		// No password was checked: the attempt does not count. Best
		// effort: the store just failed, and err says so.
		_ = s.store.UncountLoginAttempt(ctx, append(addrKeys, userKey)...)
		return nil, err
	}
	if err := s.store.ClearLoginFailures(ctx, userKey); err != nil {
		return nil, ErrServer(err)
	}
	if len(addrKeys) > 0 {
		if err := s.store.UncountLoginAttempt(ctx, addrKeys...); err != nil {
			return nil, ErrServer(err)
		}
	}
	return user, nil
}
