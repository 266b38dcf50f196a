// Package sse writes Server-Sent Events to an HTTP response: one frame per
// event (WHATWG HTML, "Server-sent events", the event stream format), flushed
// at once so the reader sees each event as it happens. The assessment event
// stream, the chat route and the console's chat all write through it. The
// framing is github.com/tmaxmax/go-sse's Message, the library the API client
// reads these streams with.
package sse

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	gosse "github.com/tmaxmax/go-sse"
)

// Writer is the response an event stream is written to: an
// http.ResponseWriter that flushes, or echo's Response.
type Writer interface {
	io.Writer
	http.Flusher
}

// Event writes one event with its id (none when id is empty), its name and
// its data, and flushes it. JSON data is compacted to one data line; other
// data is sent one data line per line, since a blank line ends an event.
func Event(w Writer, id, name string, data []byte) error {
	m := &gosse.Message{}
	if id != "" {
		eid, err := gosse.NewID(id)
		if err != nil {
			return fmt.Errorf("sse: %w", err)
		}
		m.ID = eid
	}
	typ, err := gosse.NewType(name)
	if err != nil {
		return fmt.Errorf("sse: %w", err)
	}
	m.Type = typ
	var compact bytes.Buffer
	if json.Compact(&compact, data) == nil {
		m.AppendData(compact.String())
	} else {
		m.AppendData(string(data))
	}
	if _, err := m.WriteTo(w); err != nil {
		return err
	}
	w.Flush()
	return nil
}

// JSON writes v, encoded as JSON, as the data of an event named name with no
// id, and flushes it.
func JSON(w Writer, name string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("sse: encode %s event: %w", name, err)
	}
	return Event(w, "", name, b)
}

// Comment writes a comment (a keep-alive readers ignore) and flushes it.
func Comment(w Writer, text string) error {
	m := &gosse.Message{}
	m.AppendComment(text)
	if _, err := m.WriteTo(w); err != nil {
		return err
	}
	w.Flush()
	return nil
}
