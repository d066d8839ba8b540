package dynamostore

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/gatehouse/gatehouse/shared/awsjson"
	"github.com/gatehouse/gatehouse/shared/oauth"
)

// The admin methods below serve the seed loader and the CLI; no Lambda
// calls them.

// PutClient creates the client or replaces the one with the same ID
// (PutItem).
func (s *Store) PutClient(ctx context.Context, c *oauth.Client) error {
	return s.putClient(ctx, "PutClient", c, "")
}

// CreateClient creates the client; ErrConflict if its ID is taken
// (conditional PutItem).
func (s *Store) CreateClient(ctx context.Context, c *oauth.Client) error {
	return s.putClient(ctx, "CreateClient", c, "attribute_not_exists(client_id)")
}

func (s *Store) putClient(ctx context.Context, method string, c *oauth.Client, cond string) error {
	if c.ID == "" {
		return fmt.Errorf("dynamostore: %s: empty client id", method)
	}
	return s.put(ctx, method, s.tables.Clients, clientItem(c), cond, "client already exists")
}

// DeleteClient deletes the client with this ID; ErrNotFound if there is
// none (conditional DeleteItem).
func (s *Store) DeleteClient(ctx context.Context, id string) error {
	return s.delete(ctx, "DeleteClient", s.tables.Clients, id, clientKey, "attribute_exists(client_id)", "client")
}

// ListClients returns every client, sorted by ID (a strongly consistent
// Scan, page by page).
func (s *Store) ListClients(ctx context.Context) ([]*oauth.Client, error) {
	const method = "ListClients"
	var out []*oauth.Client
	in := &scanInput{TableName: s.tables.Clients, ConsistentRead: true, Limit: s.scanLimit}
	for {
		var page scanOutput
		if err := s.db.Call(ctx, "Scan", in, &page); err != nil {
			return nil, fail(method, "Scan", err, s.tables.Clients)
		}
		for _, it := range page.Items {
			c, err := clientFrom(it)
			if err != nil {
				return nil, corrupt(method, s.tables.Clients, err)
			}
			out = append(out, c)
		}
		if len(page.LastEvaluatedKey) == 0 {
			break
		}
		in.ExclusiveStartKey = page.LastEvaluatedKey
	}
	slices.SortFunc(out, func(a, b *oauth.Client) int { return cmp.Compare(a.ID, b.ID) })
	return out, nil
}

// PutUser creates the user or replaces the one with the same username
// (PutItem).
func (s *Store) PutUser(ctx context.Context, u *oauth.User) error {
	return s.putUser(ctx, "PutUser", u, "")
}

// CreateUser creates the user; ErrConflict if the username is taken
// (conditional PutItem).
func (s *Store) CreateUser(ctx context.Context, u *oauth.User) error {
	return s.putUser(ctx, "CreateUser", u, "attribute_not_exists(username)")
}

func (s *Store) putUser(ctx context.Context, method string, u *oauth.User, cond string) error {
	if u.Username == "" {
		return fmt.Errorf("dynamostore: %s: empty username", method)
	}
	return s.put(ctx, method, s.tables.Users, userItem(u), cond, "user already exists")
}

// DeleteUser deletes the user with this username; ErrNotFound if there is
// none (conditional DeleteItem).
func (s *Store) DeleteUser(ctx context.Context, username string) error {
	return s.delete(ctx, "DeleteUser", s.tables.Users, username, userKey, "attribute_exists(username)", "user")
}

// put writes it, under condition cond if it is not empty.
func (s *Store) put(ctx context.Context, method, table string, it item, cond, exists string) error {
	err := s.writer.Call(ctx, "PutItem", &put{TableName: table, Item: it, ConditionExpression: cond}, nil)
	if _, ok := conditionFailed(err); ok {
		return conflict(method, exists)
	}
	if err != nil {
		return fail(method, "PutItem", err, table)
	}
	return nil
}

// delete deletes the item key(id), which must exist (cond).
func (s *Store) delete(ctx context.Context, method, table, id string, key func(string) item, cond, what string) error {
	if id == "" {
		return notFound(method, what)
	}
	err := s.writer.Call(ctx, "DeleteItem", &deleteItemInput{
		TableName:           table,
		Key:                 key(id),
		ConditionExpression: cond,
	}, nil)
	if _, ok := conditionFailed(err); ok {
		return notFound(method, what)
	}
	if err != nil {
		return fail(method, "DeleteItem", err, table)
	}
	return nil
}

// tableSpec is one table's shape: its partition key (a string) and whether
// its items expire through TTL on expires_at.
type tableSpec struct {
	name, key string
	ttl       bool
}

func (s *Store) specs() []tableSpec {
	return []tableSpec{
		{s.tables.Clients, attrClientID, false},
		{s.tables.Users, attrUsername, false},
		{s.tables.Codes, attrCodeHash, true},
		{s.tables.Tokens, attrPK, true},
		{s.tables.Sessions, attrSessionHash, true},
	}
}

// Waiting for a table to become ACTIVE: at most tableWait, polling
// DescribeTable every tableWaitMin, doubling up to tableWaitMax (as the
// SDK's TableExists waiter does, with its bounds of 1 s and 5 s here).
const (
	tableWait    = 5 * time.Minute
	tableWaitMin = time.Second
	tableWaitMax = 5 * time.Second
)

// CreateTables creates the tables that are missing (on-demand capacity,
// PAY_PER_REQUEST; server-side encryption enabled, with the AWS managed KMS
// key aws/dynamodb), waits until every table is ACTIVE, and enables TTL on
// expires_at for the codes, tokens and sessions tables where it is not
// enabled yet. Existing tables are left alone, but one whose partition key
// differs from the design, or whose TTL is on another attribute, is an
// error. Running it again is harmless.
func (s *Store) CreateTables(ctx context.Context) error {
	const method = "CreateTables"
	var pending []string // tables not ACTIVE yet
	for _, t := range s.specs() {
		var desc describeTableOutput
		err := s.db.Call(ctx, "DescribeTable", &tableName{t.name}, &desc)
		switch {
		case awsjson.ErrorCode(err) == codeResourceNotFound:
			status, err := s.createTable(ctx, t)
			if err != nil {
				return err
			}
			if status != tableActive {
				pending = append(pending, t.name)
			}
		case err != nil:
			return fail(method, "DescribeTable", err, t.name)
		default:
			if err := checkKey(desc.Table, t); err != nil {
				return err
			}
			if desc.Table.TableStatus != tableActive {
				pending = append(pending, t.name)
			}
		}
	}
	for _, name := range pending {
		if err := s.waitActive(ctx, name); err != nil {
			return fmt.Errorf("dynamostore: %s: waiting for table %s to become ACTIVE: %w", method, name, err)
		}
	}
	for _, t := range s.specs() {
		if t.ttl {
			if err := s.enableTTL(ctx, t.name); err != nil {
				return err
			}
		}
	}
	return nil
}

// createTable creates table t and returns its status. A table that
// appeared meanwhile (another CreateTables) is fine.
func (s *Store) createTable(ctx context.Context, t tableSpec) (string, error) {
	in := &createTableInput{
		TableName:            t.name,
		AttributeDefinitions: []attributeDefinition{{AttributeName: t.key, AttributeType: "S"}},
		KeySchema:            []keySchemaElement{{AttributeName: t.key, KeyType: "HASH"}},
		BillingMode:          "PAY_PER_REQUEST",
	}
	in.SSESpecification.Enabled = true
	var out createTableOutput
	err := s.db.Call(ctx, "CreateTable", in, &out)
	if awsjson.ErrorCode(err) == codeResourceInUse {
		return "CREATING", nil
	}
	if err != nil {
		return "", fail("CreateTables", "CreateTable", err, t.name)
	}
	return out.TableDescription.TableStatus, nil
}

// waitActive polls DescribeTable until table is ACTIVE; a table not found
// yet is waited for too.
func (s *Store) waitActive(ctx context.Context, table string) error {
	ctx, cancel := context.WithTimeout(ctx, tableWait)
	defer cancel()
	for delay := tableWaitMin; ; delay = min(2*delay, tableWaitMax) {
		var desc describeTableOutput
		err := s.db.Call(ctx, "DescribeTable", &tableName{table}, &desc)
		switch {
		case err == nil && desc.Table.TableStatus == tableActive:
			return nil
		case err != nil && awsjson.ErrorCode(err) != codeResourceNotFound:
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(delay):
		}
	}
}

// checkKey reports an existing table whose partition key is not the
// design's.
func checkKey(desc tableDescription, t tableSpec) error {
	if len(desc.KeySchema) == 1 && desc.KeySchema[0].KeyType == "HASH" && desc.KeySchema[0].AttributeName == t.key {
		return nil
	}
	return fmt.Errorf("dynamostore: CreateTables: table %s exists with another key schema "+
		"(want partition key %s of type S and no sort key); it was left alone", t.name, t.key)
}

// enableTTL turns on TTL on expires_at for table, unless it is on already.
func (s *Store) enableTTL(ctx context.Context, table string) error {
	const method = "CreateTables"
	var out describeTimeToLiveOutput
	if err := s.db.Call(ctx, "DescribeTimeToLive", &tableName{table}, &out); err != nil {
		return fail(method, "DescribeTimeToLive", err, table)
	}
	d := out.TimeToLiveDescription
	if d == nil {
		d = &timeToLiveDescription{TimeToLiveStatus: ttlDisabled}
	}
	switch d.TimeToLiveStatus {
	case ttlEnabled, ttlEnabling:
		if d.AttributeName != attrExpiresAt {
			return fmt.Errorf("dynamostore: %s: table %s has TTL on %q, want %q; it was left alone",
				method, table, d.AttributeName, attrExpiresAt)
		}
		return nil
	case ttlDisabling:
		return fmt.Errorf("dynamostore: %s: TTL of table %s is being disabled; run again once it is DISABLED", method, table)
	}
	in := &updateTimeToLiveInput{TableName: table}
	in.TimeToLiveSpecification.AttributeName = attrExpiresAt
	in.TimeToLiveSpecification.Enabled = true
	if err := s.db.Call(ctx, "UpdateTimeToLive", in, nil); err != nil {
		return fail(method, "UpdateTimeToLive", err, table)
	}
	return nil
}
