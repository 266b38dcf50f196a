package sse_test

import (
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/infra-mind/infra-mind/pkg/sse"
)

func TestFrames(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		write func(w sse.Writer) error
		want  string
	}{
		{
			name: "an event with an id and JSON data spread over lines is one compact data line",
			write: func(w sse.Writer) error {
				return sse.Event(w, "42", "status", []byte("{\n  \"status\": \"running\"\n}"))
			},
			want: "id: 42\nevent: status\ndata: {\"status\":\"running\"}\n\n",
		},
		{
			name:  "an event without an id has no id line",
			write: func(w sse.Writer) error { return sse.Event(w, "", "completed", []byte(`{"a":1}`)) },
			want:  "event: completed\ndata: {\"a\":1}\n\n",
		},
		{
			name:  "text that is not JSON is a data line per line, so no blank line ends the event early",
			write: func(w sse.Writer) error { return sse.Event(w, "7", "note", []byte("first\n\nthird\r\nfourth")) },
			want:  "id: 7\nevent: note\ndata: first\ndata: \ndata: third\ndata: fourth\n\n",
		},
		{
			name:  "a value is encoded as JSON",
			write: func(w sse.Writer) error { return sse.JSON(w, "token", map[string]string{"text": "a <b>"}) },
			want:  "event: token\ndata: {\"text\":\"a \\u003cb\\u003e\"}\n\n",
		},
		{
			name:  "a comment",
			write: func(w sse.Writer) error { return sse.Comment(w, "keep-alive") },
			want:  ": keep-alive\n\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := httptest.NewRecorder()
			require.NoError(t, tt.write(rec))
			require.Equal(t, tt.want, rec.Body.String())
			require.True(t, rec.Flushed, "each frame is flushed so the reader sees it at once")
		})
	}
}

func TestRefusesWhatWouldBreakTheFrame(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		write func(w sse.Writer) error
	}{
		{name: "a name over two lines", write: func(w sse.Writer) error { return sse.Event(w, "", "a\nb", []byte("{}")) }},
		{name: "an id over two lines", write: func(w sse.Writer) error { return sse.Event(w, "1\n2", "a", []byte("{}")) }},
		{name: "a value JSON cannot carry", write: func(w sse.Writer) error { return sse.JSON(w, "a", func() {}) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := httptest.NewRecorder()
			require.Error(t, tt.write(rec))
			require.Empty(t, rec.Body.String(), "nothing of a refused event is written")
		})
	}
}
