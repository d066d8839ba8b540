package dynamostore

import (
	"context"
	"fmt"
	"time"

	"github.com/gatehouse/gatehouse/shared/oauth"
)

// condLiveSession: the session exists and has not ended (expires_at is its
// idle expiry, the earlier end).
const condLiveSession = "attribute_exists(session_hash) AND expires_at > :now"

// UpdateSession applies change: one UpdateItem of the session, or, with a
// consent, one TransactWriteItems that also adds it to the user's record.
// A missing or ended session (or a deleted user) is ErrNotFound, and
// nothing is written.
func (s *Store) UpdateSession(ctx context.Context, change *oauth.SessionChange) error {
	return s.changeSession(ctx, "UpdateSession", change, nil)
}

// changeSession writes change, with the Put of a new code when code is not
// nil, atomically.
func (s *Store) changeSession(ctx context.Context, method string, change *oauth.SessionChange, code *put) error {
	if change.Hash == "" || change.ConsentClientID != "" && change.Username == "" {
		return notFound(method, "session")
	}
	now := s.now()
	var actions []transactWriteItem
	if code != nil {
		actions = append(actions, transactWriteItem{Put: code})
	}
	sessionAt := len(actions)
	actions = append(actions, transactWriteItem{Update: s.sessionUpdate(change, now)})
	if change.ConsentClientID != "" {
		actions = append(actions, transactWriteItem{Update: s.userConsentUpdate(change)})
	}
	tables := []string{s.tables.Sessions}
	if change.ConsentClientID != "" {
		tables = append(tables, s.tables.Users)
	}
	if code != nil {
		tables = append(tables, s.tables.Codes)
	}

	if len(actions) == 1 {
		err := s.writer.Call(ctx, "UpdateItem", actions[0].Update, nil)
		if _, ok := conditionFailed(err); ok {
			return notFound(method, "session")
		}
		if err != nil {
			return fail(method, "UpdateItem", err, tables...)
		}
		return nil
	}
	err := s.transact(ctx, actions)
	if err == nil {
		return nil
	}
	c, ok := canceled(err)
	if !ok {
		return fail(method, "TransactWriteItems", err, tables...)
	}
	if code != nil {
		if _, ok := c.conditionFailed(0); ok {
			return conflict(method, "authorization code already exists")
		}
	}
	if _, ok := c.conditionFailed(sessionAt); ok {
		return notFound(method, "session")
	}
	if _, ok := c.conditionFailed(sessionAt + 1); ok {
		return notFound(method, "the session's user")
	}
	if c.throttled() {
		return throttled(method, "TransactWriteItems", err, tables...)
	}
	return fail(method, "TransactWriteItems", err, tables...)
}

// sessionUpdate is the Update of a live session that moves its idle
// expiry on and adds the consent, as change says. With neither, it only
// checks that the session is live.
func (s *Store) sessionUpdate(change *oauth.SessionChange, now int64) *update {
	u := &update{
		TableName:                 s.tables.Sessions,
		Key:                       sessionKey(change.Hash),
		ConditionExpression:       condLiveSession,
		ExpressionAttributeValues: item{":now": num(now)},
	}
	set := "SET expires_at = expires_at"
	if !change.IdleExpiresAt.IsZero() {
		set = "SET expires_at = :idle"
		u.ExpressionAttributeValues[":idle"] = epoch(change.IdleExpiresAt)
	}
	u.UpdateExpression = set
	if change.ConsentClientID != "" {
		u.UpdateExpression += " ADD #consent :scopes"
		u.ExpressionAttributeNames = map[string]string{"#consent": prefixConsent + change.ConsentClientID}
		u.ExpressionAttributeValues[":scopes"] = consentSet(change.ConsentScopes)
	}
	return u
}

// userConsentUpdate is the Update that adds change's consent to its
// user's record, if the user still exists.
func (s *Store) userConsentUpdate(change *oauth.SessionChange) *update {
	return &update{
		TableName:                 s.tables.Users,
		Key:                       userKey(change.Username),
		UpdateExpression:          "ADD #consent :scopes",
		ConditionExpression:       "attribute_exists(username)",
		ExpressionAttributeNames:  map[string]string{"#consent": prefixConsent + change.ConsentClientID},
		ExpressionAttributeValues: item{":scopes": consentSet(change.ConsentScopes)},
	}
}

// Failed-login counters live in the sessions table, under keys that cannot
// be session hashes ("login#…", see oauth's throttle.go), with a failures
// count and an expires_at that TTL deletes them by.

// LoginFailures returns the live counts of keys: one strongly consistent
// BatchGetItem.
func (s *Store) LoginFailures(ctx context.Context, keys ...string) (map[string]int, error) {
	const method = "LoginFailures"
	out := make(map[string]int, len(keys))
	if len(keys) == 0 {
		return out, nil
	}
	req := make([]item, len(keys))
	for i, k := range keys {
		req[i] = sessionKey(k)
	}
	found, err := s.batchGet(ctx, method, s.tables.Sessions, attrSessionHash, req...)
	if err != nil {
		return nil, err
	}
	now := s.now()
	for key, it := range found {
		r := reader{it: it}
		n, _ := r.n(attrFailures)
		if r.err != nil {
			return nil, corrupt(method, s.tables.Sessions, r.err)
		}
		if live(it, now) {
			out[key] = int(n)
		}
	}
	return out, nil
}

// AddLoginFailure adds one to each key's counter: an UpdateItem per key
// that creates a missing counter with expiresAt; a counter that expired
// but is not yet deleted is replaced by a fresh one (a conditional
// PutItem).
func (s *Store) AddLoginFailure(ctx context.Context, expiresAt time.Time, keys ...string) error {
	for _, k := range keys {
		if err := s.addLoginFailure(ctx, k, expiresAt); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) addLoginFailure(ctx context.Context, key string, expiresAt time.Time) error {
	const method = "AddLoginFailure"
	for range 3 { // a concurrent reset can fail each step once
		now := num(s.now())
		err := s.writer.Call(ctx, "UpdateItem", &update{
			TableName:                 s.tables.Sessions,
			Key:                       sessionKey(key),
			UpdateExpression:          "SET expires_at = if_not_exists(expires_at, :exp) ADD failures :one",
			ConditionExpression:       "attribute_not_exists(session_hash) OR expires_at > :now",
			ExpressionAttributeValues: item{":exp": epoch(expiresAt), ":one": num(1), ":now": now},
		}, nil)
		if _, ok := conditionFailed(err); !ok {
			if err != nil {
				return fail(method, "UpdateItem", err, s.tables.Sessions)
			}
			return nil
		}
		// An expired counter: start it again.
		it := sessionKey(key)
		it[attrFailures], it[attrExpiresAt] = num(1), epoch(expiresAt)
		err = s.writer.Call(ctx, "PutItem", &put{
			TableName:                 s.tables.Sessions,
			Item:                      it,
			ConditionExpression:       "expires_at <= :now",
			ExpressionAttributeValues: item{":now": now},
		}, nil)
		if _, ok := conditionFailed(err); !ok {
			if err != nil {
				return fail(method, "PutItem", err, s.tables.Sessions)
			}
			return nil
		}
	}
	return fmt.Errorf("dynamostore: %s: the counter kept changing: %w", method, oauth.ErrUnavailable)
}

// ClearLoginFailures deletes the counters of keys (a DeleteItem each).
func (s *Store) ClearLoginFailures(ctx context.Context, keys ...string) error {
	for _, k := range keys {
		if err := s.deleteSessionsItem(ctx, "ClearLoginFailures", k); err != nil {
			return err
		}
	}
	return nil
}
