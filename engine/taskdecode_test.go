package engine

import (
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"testing"
)

// Tasks decode in one pass as encoding/json decodes them, every field of
// every task type, without giving up on what the engine writes; what the
// one pass declines (a key it does not know) still decodes as before.
func TestDecodeTaskMatchesEncodingJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 5))
	for round := range 300 {
		for _, typ := range []reflect.Type{reflect.TypeFor[activityTask](), reflect.TypeFor[workflowTask]()} {
			v := reflect.New(typ)
			if round%10 > 0 {
				fill(r, v.Elem(), 0)
			}
			data, err := json.Marshal(v.Interface())
			if err != nil {
				t.Fatal(err)
			}
			fast := reflect.New(typ)
			if err := (&jsonDecoder{data: data}).value(fast.Elem()); err != nil {
				t.Fatalf("round %d: the one pass gave up on a %s the engine wrote: %v\n%s", round, typ, err, data)
			}
			got, want := reflect.New(typ), reflect.New(typ)
			if err := decodeTask(data, got.Interface()); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(data, want.Interface()); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got.Interface(), want.Interface()) || !reflect.DeepEqual(fast.Interface(), want.Interface()) {
				t.Fatalf("round %d: %s decoded as\n%#v\nencoding/json reads\n%#v\nfrom %s", round, typ, got.Interface(), want.Interface(), data)
			}
		}
	}
	var got, want activityTask
	odd := []byte(`{"run_id":"r","Seq":7,"unknown":{"x":[1]},"attempt":2}`)
	if err := decodeTask(odd, &got); err != nil {
		t.Fatal(err)
	}
	_ = json.Unmarshal(odd, &want)
	if !reflect.DeepEqual(got, want) || got.Seq != 7 {
		t.Fatalf("a task the one pass declines decoded as %#v, encoding/json reads %#v", got, want)
	}
	if err := decodeTask([]byte(`{"run_id":`), &got); err == nil {
		t.Fatal("a truncated task decoded")
	}
}
