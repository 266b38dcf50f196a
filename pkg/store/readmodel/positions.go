package readmodel

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/tidwall/gjson"
)

// positions is a list of positions as a chunk or a children key stores
// it: a JSON array of [ms, id] pairs, the form pos reads and writes one at
// a time. Every new assessment reads and writes its tenant's newest chunk,
// up to chunkMax positions, so the list is read in one pass with gjson
// (tidwall/gjson, which the bus's tenant check uses too) and written into
// one buffer, instead of a decode and an encode of encoding/json per
// position (BenchmarkChunkCodec).
type positions []pos

// MarshalJSON writes the same bytes as encoding/json would for []pos, the
// ids encoded by encoding/json unless they need no escaping.
func (ps positions) MarshalJSON() ([]byte, error) {
	if ps == nil {
		return []byte("null"), nil
	}
	b := make([]byte, 0, len(ps)*56+2)
	b = append(b, '[')
	for i, p := range ps {
		if i > 0 {
			b = append(b, ',')
		}
		var err error
		if b, err = appendPos(b, p); err != nil {
			return nil, err
		}
	}
	return append(b, ']'), nil
}

// appendPos appends p as [ms, id].
func appendPos(b []byte, p pos) ([]byte, error) {
	b = append(b, '[')
	b = strconv.AppendInt(b, p.ms, 10)
	b = append(b, ',')
	b, err := appendJSONString(b, p.id)
	if err != nil {
		return nil, err
	}
	return append(b, ']'), nil
}

// UnmarshalJSON reads a list written by MarshalJSON (or by encoding/json
// from []pos), refusing anything else. b is valid JSON, as encoding/json
// hands an Unmarshaler (pos.UnmarshalJSON).
func (ps *positions) UnmarshalJSON(b []byte) error {
	list := gjson.ParseBytes(b)
	switch {
	case list.Type == gjson.Null:
		*ps = nil
		return nil
	case !list.IsArray():
		return errors.New("readmodel: positions are not a JSON array")
	}
	out := make(positions, 0, len(list.Raw)/48)
	var err error
	list.ForEach(func(_, v gjson.Result) bool {
		var p pos
		if p, err = posOfJSON(v); err != nil {
			return false
		}
		out = append(out, p)
		return true
	})
	if err != nil {
		return err
	}
	*ps = out
	return nil
}

// posOfJSON reads one [ms, id] pair.
func posOfJSON(v gjson.Result) (pos, error) {
	if !v.IsArray() {
		return pos{}, fmt.Errorf("readmodel: a position is [ms, id], not %s", v.Raw)
	}
	var (
		p   pos
		n   int
		err error
	)
	v.ForEach(func(_, f gjson.Result) bool {
		switch n {
		case 0:
			ms, perr := strconv.ParseInt(f.Raw, 10, 64)
			if f.Type != gjson.Number || perr != nil {
				err = fmt.Errorf("readmodel: a position's time is a whole number of milliseconds, not %s", f.Raw)
				return false
			}
			p.ms = ms
		case 1:
			if f.Type != gjson.String {
				err = fmt.Errorf("readmodel: a position's id is a string, not %s", f.Raw)
				return false
			}
			p.id = f.String()
		}
		n++
		return true
	})
	if err == nil && n != 2 {
		err = errors.New("readmodel: a position is [ms, id]")
	}
	return p, err
}

// appendJSONString appends s as a JSON string: as it is between quotes
// when no character of it needs escaping, by encoding/json otherwise.
func appendJSONString(b []byte, s string) ([]byte, error) {
	for i := range len(s) {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, err := json.Marshal(s)
			if err != nil {
				return nil, err
			}
			return append(b, q...), nil
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"'), nil
}
