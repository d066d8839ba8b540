package dynamostore

import (
	"crypto/rand"
	"fmt"
)

// The request and response shapes of the DynamoDB operations the store
// calls, as the DynamoDB API reference (version 2012-08-10) names their
// members. Each declares only the members the store sends or reads;
// omitempty leaves out what a call does not set. Keys and items are
// attribute values by name (value.go).

// getItemInput is GetItem's request.
type getItemInput struct {
	TableName      string
	Key            item
	ConsistentRead bool `json:",omitempty"`
}

// getItemOutput is GetItem's response: Item is nil when there is none.
type getItemOutput struct{ Item item }

// put is PutItem's request, and a Put action of TransactWriteItems.
type put struct {
	TableName                 string
	Item                      item
	ConditionExpression       string `json:",omitempty"`
	ExpressionAttributeValues item   `json:",omitempty"`
	// ReturnValuesOnConditionCheckFailure "ALL_OLD" returns the item a
	// failed condition saw (ConditionalCheckFailedException's Item, or the
	// cancellation reason's).
	ReturnValuesOnConditionCheckFailure string `json:",omitempty"`
}

// update is UpdateItem's request, and an Update action of
// TransactWriteItems.
type update struct {
	TableName                           string
	Key                                 item
	UpdateExpression                    string
	ConditionExpression                 string            `json:",omitempty"`
	ExpressionAttributeNames            map[string]string `json:",omitempty"`
	ExpressionAttributeValues           item              `json:",omitempty"`
	ReturnValuesOnConditionCheckFailure string            `json:",omitempty"`
}

// deleteItemInput is DeleteItem's request.
type deleteItemInput struct {
	TableName           string
	Key                 item
	ConditionExpression string `json:",omitempty"`
}

// conditionCheck is a ConditionCheck action of TransactWriteItems.
type conditionCheck struct {
	TableName                 string
	Key                       item
	ConditionExpression       string
	ExpressionAttributeValues item `json:",omitempty"`
}

// transactWriteItem is one action of TransactWriteItems: exactly one
// member is set.
type transactWriteItem struct {
	ConditionCheck *conditionCheck `json:",omitempty"`
	Put            *put            `json:",omitempty"`
	Update         *update         `json:",omitempty"`
}

// transactWriteItemsInput is TransactWriteItems' request.
type transactWriteItemsInput struct {
	TransactItems []transactWriteItem
	// ClientRequestToken makes the call idempotent for 10 minutes: a
	// repeat with the same token and request succeeds without applying
	// anything again (the SDK sets a random one on every call). The
	// client's retries of one Call send the same body, so a retry of a
	// transaction that landed, but whose response was lost, succeeds
	// instead of failing its own conditions.
	ClientRequestToken string
}

// allOld is ReturnValuesOnConditionCheckFailure's ALL_OLD.
const allOld = "ALL_OLD"

// requestToken returns a random ClientRequestToken: a version 4 UUID, as
// the SDK's (at most 36 characters).
func requestToken() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// keysAndAttributes is one table's entry of BatchGetItem's RequestItems,
// and of its response's UnprocessedKeys.
type keysAndAttributes struct {
	Keys           []item
	ConsistentRead bool `json:",omitempty"`
}

// batchGetItemInput is BatchGetItem's request.
type batchGetItemInput struct {
	RequestItems map[string]keysAndAttributes
}

// batchGetItemOutput is BatchGetItem's response: the items found, by
// table, and the keys DynamoDB did not get to (throttled), to ask again.
type batchGetItemOutput struct {
	Responses       map[string][]item
	UnprocessedKeys map[string]keysAndAttributes
}

// scanInput is Scan's request.
type scanInput struct {
	TableName         string
	ConsistentRead    bool `json:",omitempty"`
	ExclusiveStartKey item `json:",omitempty"`
	Limit             int  `json:",omitempty"`
}

// scanOutput is one page of Scan's response; LastEvaluatedKey is nil on
// the last page.
type scanOutput struct {
	Items            []item
	LastEvaluatedKey item
}

// tableName is the request of DescribeTable and DescribeTimeToLive.
type tableName struct{ TableName string }

// keySchemaElement is a key attribute of a table: KeyType HASH (the
// partition key) or RANGE (the sort key).
type keySchemaElement struct{ AttributeName, KeyType string }

// attributeDefinition declares a key attribute's type: S, N or B.
type attributeDefinition struct{ AttributeName, AttributeType string }

// createTableInput is CreateTable's request.
type createTableInput struct {
	TableName            string
	AttributeDefinitions []attributeDefinition
	KeySchema            []keySchemaElement
	BillingMode          string // PAY_PER_REQUEST: on-demand capacity
	SSESpecification     struct{ Enabled bool }
}

// tableDescription is the part of a table's description the store reads.
type tableDescription struct {
	TableStatus string // CREATING, ACTIVE, …
	KeySchema   []keySchemaElement
}

// createTableOutput is CreateTable's response.
type createTableOutput struct{ TableDescription tableDescription }

// describeTableOutput is DescribeTable's response.
type describeTableOutput struct{ Table tableDescription }

// Table and TTL statuses.
const (
	tableActive  = "ACTIVE"
	ttlEnabled   = "ENABLED"
	ttlEnabling  = "ENABLING"
	ttlDisabling = "DISABLING"
	ttlDisabled  = "DISABLED"
)

// timeToLiveDescription is a table's TTL setting.
type timeToLiveDescription struct {
	AttributeName    string
	TimeToLiveStatus string // ENABLING, ENABLED, DISABLING, DISABLED
}

// describeTimeToLiveOutput is DescribeTimeToLive's response.
type describeTimeToLiveOutput struct {
	TimeToLiveDescription *timeToLiveDescription
}

// updateTimeToLiveInput is UpdateTimeToLive's request.
type updateTimeToLiveInput struct {
	TableName               string
	TimeToLiveSpecification struct {
		AttributeName string
		Enabled       bool
	}
}
