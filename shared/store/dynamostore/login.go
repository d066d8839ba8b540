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
	// updateCount adds one, setting the expiry only on a new counter: a
	// count never extends its window.
	updateCount = "SET expires_at = if_not_exists(expires_at, :exp) ADD failures :one"
	// condCountable: no counter yet, or a live one below its limit. A live
	// counter at its limit fails it, and so does an expired one that TTL
	// has not deleted (started again by a PutItem).
	condCountable = "attribute_not_exists(session_hash) OR (expires_at > :now AND failures < :limit)"
	condExpired   = "expires_at <= :now"
	updateUncount = "ADD failures :minus"
	condUncount   = "attribute_exists(session_hash) AND expires_at > :now AND failures > :zero"
)

// CountLoginAttempt counts an attempt against each counter in order, one
// conditional UpdateItem per counter (condCountable), stopping at the
// first counter at its limit. DynamoDB applies each update atomically, so
// concurrent attempts never take a counter past its limit, and a refused
// update writes nothing. A counter that expired but is not deleted yet
// (the update's ALL_OLD says so) is replaced by a fresh one at 1 (a
// conditional PutItem).
func (s *Store) CountLoginAttempt(ctx context.Context, expiresAt time.Time, counters ...oauth.LoginCounter) (bool, error) {
	for _, c := range counters {
		ok, err := s.countLoginAttempt(ctx, c, expiresAt)
		if !ok || err != nil {
			return false, err
		}
	}
	return true, nil
}

func (s *Store) countLoginAttempt(ctx context.Context, c oauth.LoginCounter, expiresAt time.Time) (bool, error) {
	const method = "CountLoginAttempt"
	if c.Limit <= 0 {
		return false, nil
	}
	for range 3 { // a concurrent restart can fail each step once
		now := s.now()
		err := s.update(ctx, &types.Update{
			TableName:                           &s.tables.Sessions,
			Key:                                 sessionKey(c.Key),
			UpdateExpression:                    aws.String(updateCount),
			ConditionExpression:                 aws.String(condCountable),
			ExpressionAttributeValues:           item{":exp": epoch(expiresAt), ":one": num(1), ":now": num(now), ":limit": num(int64(c.Limit))},
			ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
		})
		old, failed := conditionFailed(err)
		if !failed {
			if err != nil {
				return false, fail(method, "UpdateItem", err, s.tables.Sessions)
			}
			return true, nil
		}
		if live(old, now) {
			return false, nil // at its limit
		}
		// An expired counter: start it again.
		err = s.put(ctx, &types.Put{
			TableName:                 &s.tables.Sessions,
			Item:                      marshal(loginCounterItem{Key: c.Key, Failures: 1, ExpiresAt: expiresAt}),
			ConditionExpression:       aws.String(condExpired),
			ExpressionAttributeValues: item{":now": num(now)},
		})
		if _, failed := conditionFailed(err); !failed {
			if err != nil {
				return false, fail(method, "PutItem", err, s.tables.Sessions)
			}
			return true, nil
		}
	}
	return false, fmt.Errorf("dynamostore: %s: the counter kept changing: %w", method, oauth.ErrUnavailable)
}

// UncountLoginAttempt takes one from each key's live counter above zero:
// a conditional UpdateItem per key (condUncount), whose failed condition
// means there was nothing to take back.
func (s *Store) UncountLoginAttempt(ctx context.Context, keys ...string) error {
	const method = "UncountLoginAttempt"
	for _, k := range keys {
		err := s.update(ctx, &types.Update{
			TableName:                 &s.tables.Sessions,
			Key:                       sessionKey(k),
			UpdateExpression:          aws.String(updateUncount),
			ConditionExpression:       aws.String(condUncount),
			ExpressionAttributeValues: item{":minus": num(-1), ":zero": num(0), ":now": num(s.now())},
		})
		if _, failed := conditionFailed(err); !failed && err != nil {
			return fail(method, "UpdateItem", err, s.tables.Sessions)
		}
	}
	return nil
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
