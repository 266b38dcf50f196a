package assessment

import (
	"errors"
	"math"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// FuzzParseRequest holds ParseRequest's promise for any document, JSON or
// YAML: a *ValidationError naming each problem (the gateway's 400), or a
// request whose every number is finite and which encodes as JSON. The seed
// corpus in testdata/fuzz/FuzzParseRequest holds YAML .nan and .inf, numbers
// beyond float64 and beyond the schema validator's parser, and architectures
// whose kv_heads do not fit attention_heads; `go test` runs it, `make fuzz`
// explores from it.
func FuzzParseRequest(f *testing.F) {
	f.Add([]byte(validYAML))
	f.Fuzz(func(t *testing.T, doc []byte) {
		req, err := ParseRequest(doc)
		if err != nil {
			var ve *ValidationError
			require.Truef(t, errors.As(err, &ve), "a document got %T %v, which the gateway answers with 500", err, err)
			require.NotEmpty(t, ve.Errors)
			for _, fe := range ve.Errors {
				require.NotEmpty(t, fe.Reason, "%+v", ve.Errors)
			}
			return
		}
		finiteNumbers(t, "", req.ProtoReflect())
		_, err = protojson.Marshal(req)
		require.NoError(t, err)
	})
}

// finiteNumbers checks every float and double of a message, nested messages
// and lists included, is neither NaN nor infinite.
func finiteNumbers(t *testing.T, path string, m protoreflect.Message) {
	t.Helper()
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		name := path + "." + string(fd.Name())
		switch {
		case fd.IsList():
			l := v.List()
			for i := range l.Len() {
				finiteValue(t, name, fd, l.Get(i))
			}
		case fd.IsMap():
			v.Map().Range(func(_ protoreflect.MapKey, mv protoreflect.Value) bool {
				finiteValue(t, name, fd.MapValue(), mv)
				return true
			})
		default:
			finiteValue(t, name, fd, v)
		}
		return true
	})
}

func finiteValue(t *testing.T, name string, fd protoreflect.FieldDescriptor, v protoreflect.Value) {
	t.Helper()
	switch fd.Kind() {
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		f := v.Float()
		require.Falsef(t, math.IsNaN(f) || math.IsInf(f, 0), "%s = %v", name, f)
	case protoreflect.MessageKind, protoreflect.GroupKind:
		finiteNumbers(t, name, v.Message())
	}
}
