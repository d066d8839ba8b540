package memstore

import (
	"context"

	"github.com/gatehouse/gatehouse/shared/oauth"
)

// GetUserBySubject returns the user whose subject is sub (a scan: the
// store holds a handful of users).
func (s *Store) GetUserBySubject(_ context.Context, sub string) (*oauth.User, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sub != "" {
		for _, u := range s.users {
			if u.Subject == sub {
				return cloneUser(u), nil
			}
		}
	}
	return nil, notFound("user")
}

// AssignSubject sets the user's subject to sub if it has none, and
// returns its subject.
func (s *Store) AssignSubject(_ context.Context, username, sub string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[username]
	if !ok {
		return "", notFound("user")
	}
	if u.Subject == "" {
		u.Subject = sub
		s.users[username] = u
	}
	return u.Subject, nil
}
