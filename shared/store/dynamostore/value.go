package dynamostore

import (
	"encoding/json"
	"fmt"
)

// value is one DynamoDB attribute value. In DynamoDB's JSON it is an object
// with exactly one member, named by the value's type: {"S":"abc"},
// {"N":"42"} (numbers travel as decimal strings), {"BOOL":true},
// {"L":[{"S":"a"}]}, {"SS":["a","b"]}. The store writes only these five
// types. Reading, it
// keeps the name of any other type ("M", "SS", "NULL", "B", …) and drops
// its content, so that the readers report such an attribute as unreadable
// (an item this package did not write) rather than the whole response.
type value struct {
	typ string   // typeS, typeN, typeBOOL, typeL, or another type read
	s   string   // S, or N's decimal digits
	b   bool     // BOOL
	l   []value  // L
	ss  []string // SS
}

// Attribute value types.
const (
	typeS    = "S"
	typeN    = "N"
	typeBOOL = "BOOL"
	typeL    = "L"
	typeSS   = "SS"
)

// item is one DynamoDB item (or key): attribute values by name.
type item = map[string]value

// MarshalJSON writes v as DynamoDB JSON.
func (v value) MarshalJSON() ([]byte, error) {
	switch v.typ {
	case typeS, typeN:
		return json.Marshal(map[string]string{v.typ: v.s})
	case typeBOOL:
		return json.Marshal(map[string]bool{typeBOOL: v.b})
	case typeL:
		l := v.l
		if l == nil {
			l = []value{} // an empty list is [], never null
		}
		return json.Marshal(map[string][]value{typeL: l})
	case typeSS:
		return json.Marshal(map[string][]string{typeSS: v.ss})
	}
	return nil, fmt.Errorf("dynamostore: cannot write an attribute value of type %q", v.typ)
}

// UnmarshalJSON reads a DynamoDB JSON attribute value.
func (v *value) UnmarshalJSON(data []byte) error {
	var members map[string]json.RawMessage
	if err := json.Unmarshal(data, &members); err != nil {
		return err
	}
	if len(members) != 1 {
		return fmt.Errorf("dynamostore: attribute value with %d members, want 1", len(members))
	}
	for typ, raw := range members {
		*v = value{typ: typ}
		switch typ {
		case typeS, typeN:
			return json.Unmarshal(raw, &v.s)
		case typeBOOL:
			return json.Unmarshal(raw, &v.b)
		case typeL:
			return json.Unmarshal(raw, &v.l)
		case typeSS:
			return json.Unmarshal(raw, &v.ss)
		}
	}
	return nil
}
