package oauth

import (
	"context"
	"errors"
	"time"
)

// Login checks a user's password and starts a browser session. It returns
// the session and the cookie value (the only place the raw id exists). Bad
// credentials give ErrLoginFailed, whether or not the user exists; a
// username or source address (remoteAddr, "ip" or "ip:port"; "" if
// unknown) over its failed-login limit gives a *ThrottledError
// (ErrLoginThrottled), see throttle.go.
//
// The session starts with the user's recorded consents, so that it can
// skip the consent page without another read.
func (s *Server) Login(ctx context.Context, username, password, remoteAddr string) (*Session, string, error) {
	user, err := s.authenticate(ctx, username, password, remoteAddr)
	if err != nil {
		return nil, "", err
	}
	id := RandomToken()
	now := s.now()
	sess := &Session{
		Hash:          HashToken(id),
		Subject:       user.Subject,
		Username:      user.Username,
		AuthTime:      now,
		ExpiresAt:     now.Add(s.cfg.SessionLifetime),
		IdleExpiresAt: now.Add(s.cfg.SessionIdleTimeout),
		Consents:      user.Consents,
	}
	if err := s.store.CreateSession(ctx, sess); err != nil {
		return nil, "", ErrServer(err)
	}
	return sess, id, nil
}

// ErrLoginFailed is returned by Login and the password grant's user check
// for an unknown user or a wrong password, alike.
var ErrLoginFailed = errors.New("oauth: wrong username or password")

// errNoPasswords is the cause of the server_error a server built without a
// PasswordChecker answers to a password.
var errNoPasswords = errors.New("oauth: this server was built without a password checker")

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
	if user.Subject == "" {
		// A user stored before subjects were assigned gets one at its first
		// sign-in: no migration to run (OpenID Connect Core 1.0 §2).
		sub, err := s.store.AssignSubject(ctx, user.Username, NewSubject())
		if err != nil {
			return nil, ErrServer(err)
		}
		user.Subject = sub
	}
	return user, nil
}

// SessionFromCookie returns the live session named by a cookie value, or
// ErrNotFound: missing, past its absolute lifetime, or idle too long.
func (s *Server) SessionFromCookie(ctx context.Context, cookie string) (*Session, error) {
	if cookie == "" || len(cookie) > 128 {
		return nil, ErrNotFound
	}
	sess, err := s.store.GetSession(ctx, HashToken(cookie))
	if err != nil {
		return nil, err
	}
	now := s.now()
	if !now.Before(sess.ExpiresAt) || !sess.IdleExpiresAt.IsZero() && !now.Before(sess.IdleExpiresAt) {
		return nil, ErrNotFound
	}
	return sess, nil
}

// sessionTouchInterval is how stale a session's idle expiry may get before
// a use moves it on: at most one write per session per interval.
const sessionTouchInterval = time.Minute

// sessionChange returns what using sess now changes in it: the idle expiry
// moved on (when it is more than sessionTouchInterval stale), and, with
// consent, req's scopes recorded as allowed to its client. It returns nil
// when nothing changes.
func (s *Server) sessionChange(sess *Session, req *AuthorizeRequest, consent bool) *SessionChange {
	c := &SessionChange{Hash: sess.Hash, Username: sess.Username}
	idle := s.now().Add(s.cfg.SessionIdleTimeout)
	if idle.After(sess.ExpiresAt) {
		idle = sess.ExpiresAt
	}
	if idle.Sub(sess.IdleExpiresAt) >= sessionTouchInterval {
		c.IdleExpiresAt = idle
	}
	if consent && req != nil {
		c.ConsentClientID, c.ConsentScopes = req.Client.ID, req.Scopes
	}
	if c.IdleExpiresAt.IsZero() && c.ConsentClientID == "" {
		return nil
	}
	return c
}

// TouchSession records a use of sess (a page shown): its idle expiry moves
// on if it is stale. A session that has just ended is ErrNotFound.
func (s *Server) TouchSession(ctx context.Context, sess *Session) error {
	c := s.sessionChange(sess, nil, false)
	if c == nil {
		return nil
	}
	if err := s.store.UpdateSession(ctx, c); err != nil {
		if errors.Is(err, ErrNotFound) {
			return err
		}
		return ErrServer(err)
	}
	sess.IdleExpiresAt = c.IdleExpiresAt
	return nil
}

// Logout ends the session named by a cookie value.
func (s *Server) Logout(ctx context.Context, cookie string) error {
	if cookie == "" {
		return nil
	}
	return s.store.DeleteSession(ctx, HashToken(cookie))
}
