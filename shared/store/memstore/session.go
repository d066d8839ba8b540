package memstore

import (
	"context"
	"maps"
	"slices"
	"time"

	"github.com/gatehouse/gatehouse/shared/oauth"
)

// UpdateSession applies change; ErrNotFound if its session is gone or
// expired (nothing is written then).
func (s *Store) UpdateSession(_ context.Context, change *oauth.SessionChange) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.applySessionChange(change)
}

// applySessionChange applies change to its session and user, or to
// nothing if the session is not live. Called with s.mu held.
func (s *Store) applySessionChange(c *oauth.SessionChange) error {
	sess, ok := s.liveSession(c.Hash)
	if !ok {
		return notFound("session")
	}
	if !c.IdleExpiresAt.IsZero() {
		sess.IdleExpiresAt = c.IdleExpiresAt
	}
	if c.ConsentClientID != "" {
		u, ok := s.users[c.Username]
		if !ok {
			return notFound("the session's user")
		}
		sess.Consents = addConsent(sess.Consents, c.ConsentClientID, c.ConsentScopes)
		u.Consents = addConsent(u.Consents, c.ConsentClientID, c.ConsentScopes)
		s.users[c.Username] = u
	}
	s.sessions[c.Hash] = sess
	return nil
}

// addConsent returns a copy of consents with scopes added to client's.
func addConsent(consents map[string][]string, client string, scopes []string) map[string][]string {
	out := cloneConsents(consents)
	if out == nil {
		out = map[string][]string{}
	}
	merged := slices.Clone(out[client])
	for _, sc := range scopes {
		if !slices.Contains(merged, sc) {
			merged = append(merged, sc)
		}
	}
	if merged == nil {
		merged = []string{}
	}
	slices.Sort(merged)
	out[client] = merged
	return out
}

// loginCounter is a failed-login count and when it expires.
type loginCounter struct {
	count     int
	expiresAt time.Time
}

// CountLoginAttempt adds one to each counter in order while it is below
// its limit, starting a missing or expired counter that expires at
// expiresAt; it stops at the first counter at its limit and returns
// false, leaving that counter and the rest as they are. All under the
// store's lock: concurrent attempts never take a counter past its limit.
func (s *Store) CountLoginAttempt(_ context.Context, expiresAt time.Time, counters ...oauth.LoginCounter) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sweepLoginFailures()
	for _, lc := range counters {
		c, ok := s.loginFailures[lc.Key]
		if !ok || !s.live(c.expiresAt) {
			c = loginCounter{expiresAt: expiresAt}
		}
		if c.count >= lc.Limit {
			return false, nil
		}
		c.count++
		s.loginFailures[lc.Key] = c
	}
	return true, nil
}

// UncountLoginAttempt takes one from each live counter of keys that is
// above zero.
func (s *Store) UncountLoginAttempt(_ context.Context, keys ...string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, k := range keys {
		if c, ok := s.loginFailures[k]; ok && s.live(c.expiresAt) && c.count > 0 {
			c.count--
			s.loginFailures[k] = c
		}
	}
	return nil
}

// ClearLoginFailures deletes the counters of keys.
func (s *Store) ClearLoginFailures(_ context.Context, keys ...string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, k := range keys {
		delete(s.loginFailures, k)
	}
	return nil
}

// sweepLoginFailures drops expired counters once there are many, so that
// a guessing attack cannot grow the map without bound. Called with s.mu
// held.
func (s *Store) sweepLoginFailures() {
	if len(s.loginFailures) < minSweep {
		return
	}
	maps.DeleteFunc(s.loginFailures, func(_ string, c loginCounter) bool { return !s.live(c.expiresAt) })
}

func cloneConsents(m map[string][]string) map[string][]string {
	if m == nil {
		return nil
	}
	out := make(map[string][]string, len(m))
	for k, v := range m {
		out[k] = slices.Clone(v)
	}
	return out
}

func cloneUser(u oauth.User) *oauth.User {
	u.Consents = cloneConsents(u.Consents)
	u.Claims = u.Claims.Clone()
	return &u
}

func cloneSession(sess oauth.Session) *oauth.Session {
	sess.Consents = cloneConsents(sess.Consents)
	return &sess
}
