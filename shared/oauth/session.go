package oauth

import (
	"context"
	"errors"
)

// Login checks a user's password and starts a browser session. It returns
// the session and the cookie value (the only place the raw id exists). Bad
// credentials give ErrLoginFailed, whether or not the user exists.
func (s *Server) Login(ctx context.Context, username, password string) (*Session, string, error) {
	user, err := s.checkUser(ctx, username, password)
	if err != nil {
		return nil, "", err
	}
	id := RandomToken()
	now := s.now()
	sess := &Session{
		Hash:      HashToken(id),
		Subject:   user.Subject,
		Username:  user.Username,
		AuthTime:  now,
		ExpiresAt: now.Add(s.cfg.SessionLifetime),
	}
	if err := s.store.CreateSession(ctx, sess); err != nil {
		return nil, "", ErrServer(err)
	}
	return sess, id, nil
}

// ErrLoginFailed is returned by Login and the password grant's user check
// for an unknown user or a wrong password, alike.
var ErrLoginFailed = errors.New("oauth: wrong username or password")

// checkUser verifies a username and password, spending the same hashing
// work whether or not the user exists.
func (s *Server) checkUser(ctx context.Context, username, password string) (*User, error) {
	if username == "" || password == "" {
		s.passwords.DummyCheck(password)
		return nil, ErrLoginFailed
	}
	user, err := s.store.GetUser(ctx, username)
	if errors.Is(err, ErrNotFound) {
		s.passwords.DummyCheck(password)
		return nil, ErrLoginFailed
	}
	if err != nil {
		return nil, ErrServer(err)
	}
	if !s.passwords.CheckPassword(user.PasswordHash, password) {
		return nil, ErrLoginFailed
	}
	return user, nil
}

// SessionFromCookie returns the live session named by a cookie value, or
// ErrNotFound.
func (s *Server) SessionFromCookie(ctx context.Context, cookie string) (*Session, error) {
	if cookie == "" || len(cookie) > 128 {
		return nil, ErrNotFound
	}
	sess, err := s.store.GetSession(ctx, HashToken(cookie))
	if err != nil {
		return nil, err
	}
	if !s.now().Before(sess.ExpiresAt) {
		return nil, ErrNotFound
	}
	return sess, nil
}

// Logout ends the session named by a cookie value.
func (s *Server) Logout(ctx context.Context, cookie string) error {
	if cookie == "" {
		return nil
	}
	return s.store.DeleteSession(ctx, HashToken(cookie))
}
