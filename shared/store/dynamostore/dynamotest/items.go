package dynamotest

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/shared/awsjson"
)

// AttributeValue is one DynamoDB attribute value as DynamoDB's JSON has
// it: an object with one member, named by the value's type. Type is that
// name ("S", "N", "BOOL", "L", "M", "SS", "NULL", …) and Value its raw
// JSON: {"S":"abc"} is {Type: "S", Value: `"abc"`}, {"N":"42"} is
// {Type: "N", Value: `"42"`} (numbers travel as strings). Read nested
// values (L, M) by unmarshalling Value into []AttributeValue or
// map[string]AttributeValue.
type AttributeValue struct {
	Type  string
	Value json.RawMessage
}

// S is a string attribute value.
func S(v string) AttributeValue { return raw("S", v) }

// N is a number attribute value.
func N(v int64) AttributeValue { return raw("N", strconv.FormatInt(v, 10)) }

// BOOL is a boolean attribute value.
func BOOL(v bool) AttributeValue { return raw("BOOL", v) }

func raw(typ string, v any) AttributeValue {
	data, _ := json.Marshal(v) // strings and bools always marshal
	return AttributeValue{Type: typ, Value: data}
}

// MarshalJSON writes v as DynamoDB JSON.
func (v AttributeValue) MarshalJSON() ([]byte, error) {
	if v.Type == "" || len(v.Value) == 0 {
		return nil, fmt.Errorf("dynamotest: attribute value without a type or value")
	}
	return json.Marshal(map[string]json.RawMessage{v.Type: v.Value})
}

// UnmarshalJSON reads DynamoDB JSON; an object of other than one member is
// an error.
func (v *AttributeValue) UnmarshalJSON(data []byte) error {
	var members map[string]json.RawMessage
	if err := json.Unmarshal(data, &members); err != nil {
		return err
	}
	if len(members) != 1 {
		return fmt.Errorf("dynamotest: attribute value with %d members, want 1: %s", len(members), data)
	}
	for typ, val := range members {
		*v = AttributeValue{Type: typ, Value: val}
	}
	return nil
}

// String shows v as TYPE:value: S:abc, N:42, BOOL:true, and the raw JSON
// of other types (L:[{"S":"a"}]).
func (v AttributeValue) String() string {
	if v.Type == "S" || v.Type == "N" {
		var s string
		if json.Unmarshal(v.Value, &s) == nil {
			return v.Type + ":" + s
		}
	}
	return v.Type + ":" + string(v.Value)
}

// Item is one DynamoDB item, or a key: attribute values by name.
type Item map[string]AttributeValue

// Type returns the type of attribute name ("S", "N", …), "" if absent.
func (it Item) Type(name string) string { return it[name].Type }

// S returns the string attribute name, "" if it is absent or not an S.
func (it Item) S(name string) string {
	var s string
	if v := it[name]; v.Type != "S" || json.Unmarshal(v.Value, &s) != nil {
		return ""
	}
	return s
}

// N returns the integer attribute name, and false if it is absent, not an
// N or not an integer.
func (it Item) N(name string) (int64, bool) {
	var s string
	if v := it[name]; v.Type != "N" || json.Unmarshal(v.Value, &s) != nil {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}

// BOOL returns the boolean attribute name, false if it is absent or not a
// BOOL (tell those apart with Type).
func (it Item) BOOL(name string) bool {
	var b bool
	if v := it[name]; v.Type != "BOOL" || json.Unmarshal(v.Value, &b) != nil {
		return false
	}
	return b
}

// String shows the item's attributes sorted by name: {a=S:x, b=N:1}.
func (it Item) String() string {
	names := make([]string, 0, len(it))
	for name := range it {
		names = append(names, name)
	}
	slices.Sort(names)
	parts := make([]string, len(names))
	for i, name := range names {
		parts[i] = name + "=" + it[name].String()
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// GetItem reads the item with this key from table, strongly consistent,
// and returns it, nil if there is none. An error fails t.
func GetItem(t testing.TB, client *awsjson.Client, table string, key Item) Item {
	t.Helper()
	var out struct{ Item Item }
	in := struct {
		TableName      string
		Key            Item
		ConsistentRead bool
	}{table, key, true}
	call(t, client, "GetItem", table, in, &out)
	return out.Item
}

// ScanItems returns every item of table: a strongly consistent Scan, page
// by page. An error fails t.
func ScanItems(t testing.TB, client *awsjson.Client, table string) []Item {
	t.Helper()
	var items []Item
	in := struct {
		TableName         string
		ConsistentRead    bool
		ExclusiveStartKey Item `json:",omitempty"`
	}{TableName: table, ConsistentRead: true}
	for {
		var page struct {
			Items            []Item
			LastEvaluatedKey Item
		}
		call(t, client, "Scan", table, in, &page)
		items = append(items, page.Items...)
		if len(page.LastEvaluatedKey) == 0 {
			return items
		}
		in.ExclusiveStartKey = page.LastEvaluatedKey
	}
}

// PutItem writes it to table, unconditionally: for items a store would
// not write (of the wrong shape, say). An error fails t.
func PutItem(t testing.TB, client *awsjson.Client, table string, it Item) {
	t.Helper()
	in := struct {
		TableName string
		Item      Item
	}{table, it}
	call(t, client, "PutItem", table, in, nil)
}

// call performs operation op of a helper on table, failing t on error.
// (Not t's context: helpers may run in t's cleanup, after it is done.)
func call(t testing.TB, client *awsjson.Client, op, table string, in, out any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := client.Call(ctx, op, in, out); err != nil {
		t.Fatalf("dynamotest: %s %s: %v", op, table, err)
	}
}
