package dynamostore

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/gatehouse/gatehouse/shared/oauth"
)

// condLiveSession: the session exists and has not ended (expires_at is its
// idle expiry, the earlier end).
const condLiveSession = "attribute_exists(session_hash) AND expires_at > :now"

// CreateSession stores a new session (conditional PutItem); ErrConflict if
// a live session has its hash.
func (s *Store) CreateSession(ctx context.Context, sess *oauth.Session) error {
	const method = "CreateSession"
	if sess.Hash == "" {
		return fmt.Errorf("dynamostore: %s: empty session hash", method)
	}
	err := s.put(ctx, &types.Put{
		TableName:                 &s.tables.Sessions,
		Item:                      itemOfSession(sess),
		ConditionExpression:       aws.String(condNewSession),
		ExpressionAttributeValues: item{":now": num(s.now())},
	})
	if _, ok := conditionFailed(err); ok {
		return conflict(method, "session already exists")
	}
	if err != nil {
		return fail(method, "PutItem", err, s.tables.Sessions)
	}
	return nil
}

// GetSession returns the unexpired session with this hash (strongly
// consistent GetItem: the sign-in that wrote it was an instant ago).
func (s *Store) GetSession(ctx context.Context, hash string) (*oauth.Session, error) {
	const method = "GetSession"
	if hash == "" {
		return nil, notFound(method, "session")
	}
	it, err := s.getItem(ctx, method, s.tables.Sessions, sessionKey(hash), true)
	if err != nil || it == nil || !live(it, s.now()) {
		return nil, orNotFound(err, method, "session")
	}
	sess, err := sessionOf(it)
	if err != nil {
		return nil, corrupt(method, s.tables.Sessions, err)
	}
	return sess, nil
}

// DeleteSession deletes the session with this hash (DeleteItem); a missing
// session is not an error.
func (s *Store) DeleteSession(ctx context.Context, hash string) error {
	return s.deleteSessionsItem(ctx, "DeleteSession", hash)
}

// deleteSessionsItem deletes the sessions table's item with this key (a
// session, or a failed-login counter); a missing one is not an error.
func (s *Store) deleteSessionsItem(ctx context.Context, method, hash string) error {
	if hash == "" {
		return nil
	}
	_, err := s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName: &s.tables.Sessions,
		Key:       sessionKey(hash),
	}, retryTransactionConflicts)
	if err != nil {
		return fail(method, "DeleteItem", err, s.tables.Sessions)
	}
	return nil
}

// UpdateSession applies change: one UpdateItem of the session, or, with a
// consent, one TransactWriteItems that also adds it to the user's record.
// A missing or ended session (or a deleted user) is ErrNotFound, and
// nothing is written.
func (s *Store) UpdateSession(ctx context.Context, change *oauth.SessionChange) error {
	return s.changeSession(ctx, "UpdateSession", change, nil)
}

// changeSession writes change, with code (the Put of a new code) when it
// is not nil, atomically: one UpdateItem of the session if that is all,
// else one TransactWriteItems of code, the session's Update and the
// user's consent Update.
func (s *Store) changeSession(ctx context.Context, method string, change *oauth.SessionChange, code *types.Put) error {
	if change.Hash == "" || change.ConsentClientID != "" && change.Username == "" {
		return notFound(method, "session")
	}
	now := s.now()
	var actions []types.TransactWriteItem
	if code != nil {
		actions = append(actions, types.TransactWriteItem{Put: code})
	}
	sessionAt := len(actions)
	actions = append(actions, types.TransactWriteItem{Update: s.sessionUpdate(change, now)})
	if change.ConsentClientID != "" {
		actions = append(actions, types.TransactWriteItem{Update: s.userConsentUpdate(change)})
	}
	tables := []string{s.tables.Sessions}
	if change.ConsentClientID != "" {
		tables = append(tables, s.tables.Users)
	}
	if code != nil {
		tables = append(tables, s.tables.Codes)
	}

	if len(actions) == 1 {
		err := s.update(ctx, actions[0].Update)
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
func (s *Store) sessionUpdate(change *oauth.SessionChange, now int64) *types.Update {
	u := &types.Update{
		TableName:                 &s.tables.Sessions,
		Key:                       sessionKey(change.Hash),
		ConditionExpression:       aws.String(condLiveSession),
		ExpressionAttributeValues: item{":now": num(now)},
	}
	expr := "SET expires_at = expires_at"
	if !change.IdleExpiresAt.IsZero() {
		expr = "SET expires_at = :idle"
		u.ExpressionAttributeValues[":idle"] = epoch(change.IdleExpiresAt)
	}
	if change.ConsentClientID != "" {
		expr += " ADD #consent :scopes"
		u.ExpressionAttributeNames = map[string]string{"#consent": prefixConsent + change.ConsentClientID}
		u.ExpressionAttributeValues[":scopes"] = consentSet(change.ConsentScopes)
	}
	u.UpdateExpression = &expr
	return u
}

// userConsentUpdate is the Update that adds change's consent to its
// user's record, if the user still exists.
func (s *Store) userConsentUpdate(change *oauth.SessionChange) *types.Update {
	return &types.Update{
		TableName:                 &s.tables.Users,
		Key:                       userKey(change.Username),
		UpdateExpression:          aws.String("ADD #consent :scopes"),
		ConditionExpression:       aws.String("attribute_exists(username)"),
		ExpressionAttributeNames:  map[string]string{"#consent": prefixConsent + change.ConsentClientID},
		ExpressionAttributeValues: item{":scopes": consentSet(change.ConsentScopes)},
	}
}
