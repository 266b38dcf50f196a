package devstack

import (
	"bytes"
	"context"
	"log/slog"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// countingHandler counts WithAttrs calls on the handler it wraps.
type countingHandler struct {
	slog.Handler
	withAttrs *int
}

func (h countingHandler) WithAttrs(a []slog.Attr) slog.Handler {
	*h.withAttrs++
	return countingHandler{Handler: h.Handler.WithAttrs(a), withAttrs: h.withAttrs}
}

func (h countingHandler) WithGroup(name string) slog.Handler {
	return countingHandler{Handler: h.Handler.WithGroup(name), withAttrs: h.withAttrs}
}

func TestMinLevel(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		log  func(*slog.Logger)
		// want is the output line without its time; formatted counts the
		// attribute sets handed to the text handler.
		want      string
		formatted int
	}{
		{
			name: "a dropped record's attributes are never formatted",
			log: func(l *slog.Logger) {
				l.With("args", []any{strings.Repeat("x", 1<<10)}).Debug(">>> INSERT")
				l.With("args", 1).WithGroup("g").Info("<<< INSERT", "rows", 1)
			},
			want:      "",
			formatted: 0,
		},
		{
			name: "a kept record carries every attribute and group in order",
			log: func(l *slog.Logger) {
				l.With("component", "ferretdb").WithGroup("g").With("a", 1).Error("failed", "b", 2)
			},
			want:      `level=ERROR msg=failed component=ferretdb g.a=1 g.b=2`,
			formatted: 2,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var buf bytes.Buffer
			n := 0
			text := slog.NewTextHandler(&buf, &slog.HandlerOptions{
				Level: slog.LevelDebug,
				ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
					if len(groups) == 0 && a.Key == slog.TimeKey {
						return slog.Attr{}
					}
					return a
				},
			})
			tc.log(slog.New(minLevel{Handler: countingHandler{Handler: text, withAttrs: &n}, min: slog.LevelError}))
			require.Equal(t, tc.want, strings.TrimSpace(buf.String()))
			require.Equal(t, tc.formatted, n)
			require.False(t, minLevel{Handler: text, min: slog.LevelError}.Enabled(context.Background(), slog.LevelWarn))
		})
	}
}

func TestSQLiteURLWritesWithoutWaitingForTheDisk(t *testing.T) {
	t.Parallel()
	u, err := url.Parse(sqliteURL("/data/ferretdb"))
	require.NoError(t, err)
	require.Equal(t, "file", u.Scheme)
	require.Equal(t, "/data/ferretdb/", u.Path, "FerretDB wants a directory ending in /")
	require.Equal(t, []string{"synchronous(normal)"}, u.Query()["_pragma"])
}
