package dynamostore

import (
	"fmt"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// marshal returns the attribute values of v, an item type of items.go.
// A zero time tagged omitempty is left out (attributevalue would write
// year 1).
func marshal(v any) item {
	it, err := attributevalue.MarshalMapWithOptions(v, func(o *attributevalue.EncoderOptions) {
		o.OmitEmptyTime = true
	})
	if err != nil {
		// The item types hold only strings, integers, booleans, times and
		// lists of strings, which always marshal; the round-trip tests
		// marshal each of them.
		panic(fmt.Sprintf("dynamostore: marshalling %T: %v", v, err))
	}
	return it
}

// unmarshal reads it into out, a pointer to an item type of items.go.
// Unlike attributevalue.UnmarshalMap alone, it refuses an attribute whose
// value is not of the type its field is written as (attributevalue reads a
// number into a string, and NULL as the zero value): such an item was not
// written by this package, and reads as unreadable rather than as a
// record with a field quietly wrong.
func unmarshal(it item, out any) error {
	for name, want := range attributeTypes(reflect.TypeOf(out).Elem()) {
		v, ok := it[name]
		if !ok {
			continue
		}
		if got := typeName(v); got != want {
			return fmt.Errorf("attribute %s is %s, want %s", name, got, want)
		}
		if l, ok := v.(*types.AttributeValueMemberL); ok {
			for _, e := range l.Value {
				if got := typeName(e); got != "S" {
					return fmt.Errorf("attribute %s holds a %s, want only S", name, got)
				}
			}
		}
	}
	return attributevalue.UnmarshalMap(it, out)
}

// typeName returns the DynamoDB type of v: "S", "N", "BOOL", "L", "SS", …
func typeName(v types.AttributeValue) string {
	switch v.(type) {
	case *types.AttributeValueMemberS:
		return "S"
	case *types.AttributeValueMemberN:
		return "N"
	case *types.AttributeValueMemberB:
		return "B"
	case *types.AttributeValueMemberBOOL:
		return "BOOL"
	case *types.AttributeValueMemberNULL:
		return "NULL"
	case *types.AttributeValueMemberL:
		return "L"
	case *types.AttributeValueMemberM:
		return "M"
	case *types.AttributeValueMemberSS:
		return "SS"
	case *types.AttributeValueMemberNS:
		return "NS"
	case *types.AttributeValueMemberBS:
		return "BS"
	}
	return fmt.Sprintf("%T", v)
}

// attributeTypesCache holds attributeTypes' answers by item type.
var attributeTypesCache sync.Map // reflect.Type → map[string]string

// attributeTypes returns, by attribute name, the type each field of the
// struct type t is written as: S for a string, N for an integer or a
// time (unixtime), BOOL, L for a list of strings, SS for a string set
// (stringset).
func attributeTypes(t reflect.Type) map[string]string {
	if m, ok := attributeTypesCache.Load(t); ok {
		return m.(map[string]string)
	}
	m := map[string]string{}
	for f := range t.Fields() {
		name, opts, _ := strings.Cut(f.Tag.Get("dynamodbav"), ",")
		if name == "" || name == "-" {
			panic(fmt.Sprintf("dynamostore: field %s.%s has no dynamodbav name", t, f.Name))
		}
		switch {
		case f.Type == reflect.TypeFor[time.Time]() && strings.Contains(opts, "unixtime"):
			m[name] = "N"
		case f.Type.Kind() == reflect.String:
			m[name] = "S"
		case f.Type.Kind() == reflect.Int64:
			m[name] = "N"
		case f.Type.Kind() == reflect.Bool:
			m[name] = "BOOL"
		case f.Type == reflect.TypeFor[[]string]() && strings.Contains(opts, "stringset"):
			m[name] = "SS"
		case f.Type == reflect.TypeFor[[]string]():
			m[name] = "L"
		default:
			panic(fmt.Sprintf("dynamostore: field %s.%s of type %s has no attribute type", t, f.Name, f.Type))
		}
	}
	attributeTypesCache.Store(t, m)
	return m
}
