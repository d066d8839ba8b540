package dynamostore

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/gatehouse/gatehouse/shared/oauth"
)

// SubjectIndex is the users table's global secondary index on subject,
// which UserInfo reads a user through (OpenID Connect Core 1.0 §5.3). It
// projects the claims attribute beside the keys (username, subject): the
// password hash and the consents stay out of it, so a consent recorded at
// sign-in writes nothing to the index. docs/dynamodb.md says why an index
// rather than a second item per user.
const SubjectIndex = "subject-index"

const attrSubject = "subject"

func subjectAttribute() types.AttributeDefinition {
	return types.AttributeDefinition{AttributeName: aws.String(attrSubject), AttributeType: types.ScalarAttributeTypeS}
}

func subjectIndex() types.GlobalSecondaryIndex {
	return types.GlobalSecondaryIndex{
		IndexName: aws.String(SubjectIndex),
		KeySchema: []types.KeySchemaElement{{AttributeName: aws.String(attrSubject), KeyType: types.KeyTypeHash}},
		Projection: &types.Projection{
			ProjectionType:   types.ProjectionTypeInclude,
			NonKeyAttributes: []string{"claims"},
		},
	}
}

// ensureSubjectIndex adds the subject index to a users table made before
// it existed (UpdateTable). DynamoDB fills it from the existing items in
// the background; until then GetUserBySubject finds nothing and UserInfo
// falls back to the token's username.
func (s *Store) ensureSubjectIndex(ctx context.Context, desc *types.TableDescription) error {
	for _, g := range desc.GlobalSecondaryIndexes {
		if aws.ToString(g.IndexName) == SubjectIndex {
			return nil
		}
	}
	idx := subjectIndex()
	_, err := s.db.UpdateTable(ctx, &dynamodb.UpdateTableInput{
		TableName:            &s.tables.Users,
		AttributeDefinitions: []types.AttributeDefinition{subjectAttribute()},
		GlobalSecondaryIndexUpdates: []types.GlobalSecondaryIndexUpdate{{Create: &types.CreateGlobalSecondaryIndexAction{
			IndexName: idx.IndexName, KeySchema: idx.KeySchema, Projection: idx.Projection,
		}}},
	})
	if err != nil {
		return fail("CreateTables", "UpdateTable", err, s.tables.Users)
	}
	return nil
}

// GetUserBySubject returns the user whose subject is sub: one Query of the
// subject index (eventually consistent, as every index read is), with the
// user's username, subject and claims, but not its password hash or
// consents. Subjects are unique (server-assigned, 128 random bits; a
// pinned one is checked by the seed and the CLI), so the first item is
// the user; two would be a corrupt table.
func (s *Store) GetUserBySubject(ctx context.Context, sub string) (*oauth.User, error) {
	const method = "GetUserBySubject"
	if sub == "" {
		return nil, notFound(method, "user")
	}
	out, err := s.db.Query(ctx, &dynamodb.QueryInput{
		TableName:                 &s.tables.Users,
		IndexName:                 aws.String(SubjectIndex),
		KeyConditionExpression:    aws.String("subject = :s"),
		ExpressionAttributeValues: item{":s": str(sub)},
		Limit:                     aws.Int32(2),
	})
	if err != nil {
		return nil, fail(method, "Query", err, s.tables.Users)
	}
	switch len(out.Items) {
	case 0:
		return nil, notFound(method, "user")
	case 1:
	default:
		return nil, corrupt(method, s.tables.Users, fmt.Errorf("two users have subject %q", sub))
	}
	u, err := userOf(out.Items[0])
	if err != nil {
		return nil, corrupt(method, s.tables.Users, err)
	}
	return u, nil
}

// AssignSubject gives the user username the subject sub if it has none:
// one UpdateItem, SET subject = if_not_exists(subject, :sub), returning
// the subject the item has afterwards, so two concurrent first sign-ins
// agree on one. ErrNotFound if the user is missing.
func (s *Store) AssignSubject(ctx context.Context, username, sub string) (string, error) {
	const method = "AssignSubject"
	if username == "" || sub == "" {
		return "", notFound(method, "user")
	}
	out, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 &s.tables.Users,
		Key:                       userKey(username),
		UpdateExpression:          aws.String("SET subject = if_not_exists(subject, :s)"),
		ConditionExpression:       aws.String("attribute_exists(username)"),
		ExpressionAttributeValues: item{":s": str(sub)},
		ReturnValues:              types.ReturnValueAllNew,
	})
	if _, ok := conditionFailed(err); ok {
		return "", notFound(method, "user")
	}
	if err != nil {
		return "", fail(method, "UpdateItem", err, s.tables.Users)
	}
	var got struct {
		Subject string `dynamodbav:"subject"`
	}
	if err := unmarshal(out.Attributes, &got); err != nil || got.Subject == "" {
		return "", corrupt(method, s.tables.Users, fmt.Errorf("no subject after the update: %v", err))
	}
	return got.Subject, nil
}
