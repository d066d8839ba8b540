package dynamotest

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Item is one DynamoDB item, or a key, as the SDK holds it: attribute
// values by name. Its methods read attributes of one type.
type Item map[string]types.AttributeValue

// S is a string attribute value.
func S(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }

// N is a number attribute value.
func N(v int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(v, 10)}
}

// BOOL is a boolean attribute value.
func BOOL(v bool) types.AttributeValue { return &types.AttributeValueMemberBOOL{Value: v} }

// SS is a string set attribute value.
func SS(vs ...string) types.AttributeValue { return &types.AttributeValueMemberSS{Value: vs} }

// Type returns the type of attribute name ("S", "N", "BOOL", "L", "SS",
// …), "" if absent.
func (it Item) Type(name string) string {
	v, ok := it[name]
	if !ok {
		return ""
	}
	typ, _ := show(v)
	return typ
}

// S returns the string attribute name, "" if it is absent or not an S.
func (it Item) S(name string) string {
	if v, ok := it[name].(*types.AttributeValueMemberS); ok {
		return v.Value
	}
	return ""
}

// N returns the integer attribute name, and false if it is absent, not an
// N or not an integer.
func (it Item) N(name string) (int64, bool) {
	v, ok := it[name].(*types.AttributeValueMemberN)
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(v.Value, 10, 64)
	return n, err == nil
}

// BOOL returns the boolean attribute name, false if it is absent or not a
// BOOL (tell those apart with Type).
func (it Item) BOOL(name string) bool {
	v, ok := it[name].(*types.AttributeValueMemberBOOL)
	return ok && v.Value
}

// String shows the item's attributes sorted by name, each as TYPE:value:
// {a=S:x, b=N:1, c=BOOL:true, d=L:[S:y], e=SS:[p q]}.
func (it Item) String() string {
	names := make([]string, 0, len(it))
	for name := range it {
		names = append(names, name)
	}
	slices.Sort(names)
	parts := make([]string, len(names))
	for i, name := range names {
		typ, val := show(it[name])
		parts[i] = name + "=" + typ + ":" + val
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// show returns the type of v and its value as text.
func show(v types.AttributeValue) (typ, val string) {
	switch v := v.(type) {
	case *types.AttributeValueMemberS:
		return "S", v.Value
	case *types.AttributeValueMemberN:
		return "N", v.Value
	case *types.AttributeValueMemberBOOL:
		return "BOOL", strconv.FormatBool(v.Value)
	case *types.AttributeValueMemberNULL:
		return "NULL", "true"
	case *types.AttributeValueMemberB:
		return "B", fmt.Sprintf("%x", v.Value)
	case *types.AttributeValueMemberSS:
		return "SS", fmt.Sprint(v.Value)
	case *types.AttributeValueMemberNS:
		return "NS", fmt.Sprint(v.Value)
	case *types.AttributeValueMemberL:
		parts := make([]string, len(v.Value))
		for i, e := range v.Value {
			t, s := show(e)
			parts[i] = t + ":" + s
		}
		return "L", "[" + strings.Join(parts, " ") + "]"
	case *types.AttributeValueMemberM:
		return "M", Item(v.Value).String()
	}
	return fmt.Sprintf("%T", v), "?"
}

// GetItem reads the item with this key from table, strongly consistent
// (GetItem), and returns it, nil if there is none. An error fails t.
func GetItem(t testing.TB, client *dynamodb.Client, table string, key Item) Item {
	t.Helper()
	ctx, cancel := helperContext()
	defer cancel()
	out, err := client.GetItem(ctx, &dynamodb.GetItemInput{TableName: &table, Key: key, ConsistentRead: aws.Bool(true)})
	if err != nil {
		t.Fatalf("dynamotest: GetItem %s: %v", table, err)
	}
	return out.Item
}

// ScanItems returns every item of table: a strongly consistent Scan, page
// by page. An error fails t.
func ScanItems(t testing.TB, client *dynamodb.Client, table string) []Item {
	t.Helper()
	ctx, cancel := helperContext()
	defer cancel()
	var items []Item
	pages := dynamodb.NewScanPaginator(client, &dynamodb.ScanInput{TableName: &table, ConsistentRead: aws.Bool(true)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			t.Fatalf("dynamotest: Scan %s: %v", table, err)
		}
		for _, it := range page.Items {
			items = append(items, it)
		}
	}
	return items
}

// PutItem writes it to table, unconditionally (PutItem): for items a store
// would not write (of the wrong shape, say). An error fails t.
func PutItem(t testing.TB, client *dynamodb.Client, table string, it Item) {
	t.Helper()
	ctx, cancel := helperContext()
	defer cancel()
	if _, err := client.PutItem(ctx, &dynamodb.PutItemInput{TableName: &table, Item: it}); err != nil {
		t.Fatalf("dynamotest: PutItem %s: %v", table, err)
	}
}

// helperContext is the context of a helper's call: not t's, since helpers
// may run in t's cleanup, after it is done.
func helperContext() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), time.Minute)
}
