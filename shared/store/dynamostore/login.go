package dynamostore

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/gatehouse/gatehouse/shared/oauth"
)

// Failed-login counters live in the sessions table, under keys that cannot
// be session hashes ("login#…", see oauth's throttle.go), with a failures
// count and an expires_at that TTL deletes them by (loginCounterItem).

// Conditions and updates of the counters.
const (
	updateAddFailure = "SET expires_at = if_not_exists(expires_at, :exp) ADD failures :one"
	condLiveCounter  = "attribute_not_exists(session_hash) OR expires_at > :now"
	condExpired      = "expires_at <= :now"
)

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
		var counter loginCounterItem
		if err := unmarshal(it, &counter); err != nil {
			return nil, corrupt(method, s.tables.Sessions, err)
		}
		if live(it, now) {
			out[key] = int(counter.Failures)
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
		err := s.update(ctx, &types.Update{
			TableName:                 &s.tables.Sessions,
			Key:                       sessionKey(key),
			UpdateExpression:          aws.String(updateAddFailure),
			ConditionExpression:       aws.String(condLiveCounter),
			ExpressionAttributeValues: item{":exp": epoch(expiresAt), ":one": num(1), ":now": now},
		})
		if _, ok := conditionFailed(err); !ok {
			if err != nil {
				return fail(method, "UpdateItem", err, s.tables.Sessions)
			}
			return nil
		}
		// An expired counter: start it again.
		err = s.put(ctx, &types.Put{
			TableName:                 &s.tables.Sessions,
			Item:                      marshal(loginCounterItem{Key: key, Failures: 1, ExpiresAt: expiresAt}),
			ConditionExpression:       aws.String(condExpired),
			ExpressionAttributeValues: item{":now": now},
		})
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
