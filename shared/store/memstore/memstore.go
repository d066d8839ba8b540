// Package memstore is an in-memory oauth.Store for tests and local
// development. Everything lives in maps behind one mutex, so each method is
// trivially atomic. Expiry is checked on every read, as the DynamoDB store
// must (its TTL deletes late), and records are copied on the way in and out
// so callers cannot change stored state through pointers or slices.
package memstore

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/shared/oauth"
)

// Store is an in-memory oauth.Store with the admin methods the seed loader
// and the CLI use. Create it with New.
type Store struct {
	// Now is the store's clock, which decides expiry. New sets it to
	// time.Now; a test may replace it before the store is shared.
	Now func() time.Time

	mu            sync.Mutex
	clients       map[string]oauth.Client            // by ID
	users         map[string]oauth.User              // by Username
	codes         map[string]oauth.AuthorizationCode // by Hash
	refreshTokens map[string]oauth.RefreshToken      // by Hash
	sessions      map[string]oauth.Session           // by Hash
	revokedGrants map[string]time.Time               // grant ID → keepUntil
	revokedJTIs   map[string]time.Time               // jti → token expiry
	assertionIDs  map[string]time.Time               // client ID + "\x00" + jti → expiry
	loginFailures map[string]loginCounter            // by key
	// sweepAt is the size of assertionIDs at which expired ids are next
	// dropped: every private_key_jwt request adds one.
	sweepAt int
}

var _ oauth.Store = (*Store)(nil)

// New returns an empty store whose clock is time.Now.
func New() *Store {
	return &Store{
		Now:           time.Now,
		clients:       map[string]oauth.Client{},
		users:         map[string]oauth.User{},
		codes:         map[string]oauth.AuthorizationCode{},
		refreshTokens: map[string]oauth.RefreshToken{},
		sessions:      map[string]oauth.Session{},
		revokedGrants: map[string]time.Time{},
		revokedJTIs:   map[string]time.Time{},
		assertionIDs:  map[string]time.Time{},
		loginFailures: map[string]loginCounter{},
		sweepAt:       minSweep,
	}
}

// minSweep is the least size of assertionIDs at which expired ids are
// dropped.
const minSweep = 1024

// GetClient returns the client with this ID.
func (s *Store) GetClient(_ context.Context, id string) (*oauth.Client, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.clients[id]
	if !ok {
		return nil, notFound("client")
	}
	return cloneClient(c), nil
}

// CreateCode stores a new authorization code and applies change, if not
// nil; ErrConflict if its hash is already taken, ErrNotFound if change's
// session is gone. On error nothing is written.
func (s *Store) CreateCode(_ context.Context, code *oauth.AuthorizationCode, change *oauth.SessionChange) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.liveCode(code.Hash); ok {
		return conflict("authorization code already exists")
	}
	if change != nil {
		if err := s.applySessionChange(change); err != nil {
			return err
		}
	}
	s.codes[code.Hash] = *cloneCode(*code)
	return nil
}

// GetCode returns the unexpired code with this hash, redeemed or not.
func (s *Store) GetCode(_ context.Context, hash string) (*oauth.AuthorizationCode, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.liveCode(hash)
	if !ok {
		return nil, notFound("authorization code")
	}
	return cloneCode(c), nil
}

// RedeemCode atomically marks the code redeemed and stores first, if not
// nil. A missing or expired code is ErrNotFound; a redeemed code, or a first
// token whose hash is taken, is ErrConflict. On error nothing is written.
func (s *Store) RedeemCode(_ context.Context, codeHash, grantID string, first *oauth.RefreshToken) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.liveCode(codeHash)
	switch {
	case !ok, c.GrantID != grantID, first != nil && first.GrantID != grantID:
		return notFound("authorization code")
	case c.Redeemed:
		return conflict("authorization code already redeemed")
	case s.revoked(s.revokedGrants, c.GrantID):
		return conflict("the code's grant is revoked")
	case first != nil && s.refreshTokenExists(first.Hash):
		return conflict("refresh token already exists")
	}
	c.Redeemed = true
	s.codes[codeHash] = c
	if first != nil {
		s.putRefreshToken(first)
	}
	return nil
}

// CreateRefreshToken stores the first refresh token of a new grant;
// ErrConflict if its hash is already taken.
func (s *Store) CreateRefreshToken(_ context.Context, token *oauth.RefreshToken) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.refreshTokenExists(token.Hash) {
		return conflict("refresh token already exists")
	}
	s.putRefreshToken(token)
	return nil
}

// GetRefreshToken returns the unexpired token with this hash in grant
// grantID, rotated or not, with GrantRevoked filled in. A token of another
// grant is ErrNotFound.
func (s *Store) GetRefreshToken(_ context.Context, grantID, hash string) (*oauth.RefreshToken, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.liveRefreshToken(hash)
	if !ok || t.GrantID != grantID {
		return nil, notFound("refresh token")
	}
	out := cloneRefreshToken(t)
	out.GrantRevoked = s.revoked(s.revokedGrants, t.GrantID)
	return out, nil
}

// RotateRefreshToken atomically marks the token oldHash rotated and stores
// next. The old token is looked up in next's grant: missing, expired or of
// another grant is ErrNotFound. An already rotated token, a revoked grant or
// a taken next hash is ErrConflict. On error nothing is written.
func (s *Store) RotateRefreshToken(_ context.Context, oldHash string, next *oauth.RefreshToken) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	old, ok := s.liveRefreshToken(oldHash)
	switch {
	case !ok || old.GrantID != next.GrantID:
		return notFound("refresh token")
	case old.Rotated:
		return conflict("refresh token already rotated")
	case s.revoked(s.revokedGrants, old.GrantID):
		return conflict("grant revoked")
	case s.refreshTokenExists(next.Hash):
		return conflict("refresh token already exists")
	}
	old.Rotated = true
	s.refreshTokens[oldHash] = old
	s.putRefreshToken(next)
	return nil
}

// RevokeGrant revokes every token of the grant until keepUntil. Revoking
// again never shortens an earlier revocation.
func (s *Store) RevokeGrant(_ context.Context, grantID string, keepUntil time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	extend(s.revokedGrants, grantID, keepUntil)
	return nil
}

// RevokeAccessToken records the revocation of the access token jti until
// expiresAt. Revoking again never shortens an earlier revocation.
func (s *Store) RevokeAccessToken(_ context.Context, jti string, expiresAt time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	extend(s.revokedJTIs, jti, expiresAt)
	return nil
}

// AccessTokenRevoked reports whether the access token jti, or its grant if
// grantID is not empty, has an unexpired revocation.
func (s *Store) AccessTokenRevoked(_ context.Context, jti, grantID string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.revoked(s.revokedJTIs, jti) ||
		(grantID != "" && s.revoked(s.revokedGrants, grantID)), nil
}

// UseAssertionID records client clientID's use of the assertion id jti
// until expiresAt; ErrConflict if a live record of them exists.
func (s *Store) UseAssertionID(_ context.Context, clientID, jti string, expiresAt time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := clientID + "\x00" + jti
	if s.revoked(s.assertionIDs, key) {
		return conflict("client assertion id already used")
	}
	s.assertionIDs[key] = expiresAt
	if len(s.assertionIDs) >= s.sweepAt {
		for k, until := range s.assertionIDs {
			if !s.live(until) {
				delete(s.assertionIDs, k)
			}
		}
		s.sweepAt = max(2*len(s.assertionIDs), minSweep)
	}
	return nil
}

// GetUser returns the user with this username.
func (s *Store) GetUser(_ context.Context, username string) (*oauth.User, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[username]
	if !ok {
		return nil, notFound("user")
	}
	return cloneUser(u), nil
}

// CreateSession stores a new session; ErrConflict if its hash is taken.
func (s *Store) CreateSession(_ context.Context, sess *oauth.Session) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.liveSession(sess.Hash); ok {
		return conflict("session already exists")
	}
	s.sessions[sess.Hash] = *cloneSession(*sess)
	return nil
}

// GetSession returns the unexpired session with this hash.
func (s *Store) GetSession(_ context.Context, hash string) (*oauth.Session, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sess, ok := s.liveSession(hash)
	if !ok {
		return nil, notFound("session")
	}
	return cloneSession(sess), nil
}

// DeleteSession deletes the session with this hash; deleting a missing
// session is not an error.
func (s *Store) DeleteSession(_ context.Context, hash string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.sessions, hash)
	return nil
}

// PutClient creates the client or replaces the one with the same ID.
func (s *Store) PutClient(_ context.Context, c *oauth.Client) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clients[c.ID] = *cloneClient(*c)
	return nil
}

// DeleteClient deletes the client with this ID; ErrNotFound if there is
// none.
func (s *Store) DeleteClient(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.clients[id]; !ok {
		return notFound("client")
	}
	delete(s.clients, id)
	return nil
}

// ListClients returns every client, sorted by ID.
func (s *Store) ListClients(_ context.Context) ([]*oauth.Client, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*oauth.Client, 0, len(s.clients))
	for _, c := range s.clients {
		out = append(out, cloneClient(c))
	}
	slices.SortFunc(out, func(a, b *oauth.Client) int { return cmp.Compare(a.ID, b.ID) })
	return out, nil
}

// PutUser creates the user or replaces the one with the same username.
func (s *Store) PutUser(_ context.Context, u *oauth.User) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.users[u.Username] = *cloneUser(*u)
	return nil
}

// DeleteUser deletes the user with this username; ErrNotFound if there is
// none.
func (s *Store) DeleteUser(_ context.Context, username string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.users[username]; !ok {
		return notFound("user")
	}
	delete(s.users, username)
	return nil
}

// The helpers below are called with s.mu held.

// live reports whether a record expiring at expiresAt is still visible.
func (s *Store) live(expiresAt time.Time) bool { return s.Now().Before(expiresAt) }

func (s *Store) liveCode(hash string) (oauth.AuthorizationCode, bool) {
	c, ok := s.codes[hash]
	return c, ok && s.live(c.ExpiresAt)
}

func (s *Store) liveRefreshToken(hash string) (oauth.RefreshToken, bool) {
	t, ok := s.refreshTokens[hash]
	return t, ok && s.live(t.ExpiresAt)
}

func (s *Store) refreshTokenExists(hash string) bool {
	_, ok := s.liveRefreshToken(hash)
	return ok
}

func (s *Store) liveSession(hash string) (oauth.Session, bool) {
	sess, ok := s.sessions[hash]
	return sess, ok && s.live(sess.ExpiresAt) && (sess.IdleExpiresAt.IsZero() || s.live(sess.IdleExpiresAt))
}

// putRefreshToken stores a copy of t. GrantRevoked is never stored: it is
// computed on read.
func (s *Store) putRefreshToken(t *oauth.RefreshToken) {
	c := cloneRefreshToken(*t)
	c.GrantRevoked = false
	s.refreshTokens[c.Hash] = *c
}

// revoked reports whether key has an unexpired revocation in m.
func (s *Store) revoked(m map[string]time.Time, key string) bool {
	until, ok := m[key]
	return ok && s.live(until)
}

// extend records a revocation of key until until, keeping a later one.
func extend(m map[string]time.Time, key string, until time.Time) {
	if old, ok := m[key]; !ok || until.After(old) {
		m[key] = until
	}
}

func cloneClient(c oauth.Client) *oauth.Client {
	c.RedirectURIs = slices.Clone(c.RedirectURIs)
	c.PostLogoutRedirectURIs = slices.Clone(c.PostLogoutRedirectURIs)
	c.GrantTypes = slices.Clone(c.GrantTypes)
	c.ResponseTypes = slices.Clone(c.ResponseTypes)
	c.Scopes = slices.Clone(c.Scopes)
	c.JWKS = c.JWKS.Clone()
	return &c
}

func cloneCode(c oauth.AuthorizationCode) *oauth.AuthorizationCode {
	c.Scopes = slices.Clone(c.Scopes)
	return &c
}

func cloneRefreshToken(t oauth.RefreshToken) *oauth.RefreshToken {
	t.Scopes = slices.Clone(t.Scopes)
	return &t
}

func notFound(what string) error {
	return fmt.Errorf("memstore: %s: %w", what, oauth.ErrNotFound)
}

func conflict(why string) error {
	return fmt.Errorf("memstore: %s: %w", why, oauth.ErrConflict)
}
