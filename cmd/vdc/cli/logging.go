package cli

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
)

// Log formats of vdc serve.
const (
	logFormatText = "text"
	logFormatJSON = "json"
)

// newLogger returns serve's logger: format text or json ("" picks text
// when w is a terminal, json otherwise), level debug, info, warn or error
// ("" is info). Durations are written as strings ("1.5s"), in both
// formats, rather than nanoseconds.
func newLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lv slog.Level
	switch strings.ToLower(level) {
	case "", "info":
		lv = slog.LevelInfo
	case "debug":
		lv = slog.LevelDebug
	case "warn", "warning":
		lv = slog.LevelWarn
	case "error":
		lv = slog.LevelError
	default:
		return nil, fmt.Errorf("log level must be debug, info, warn or error, not %q", level)
	}
	opts := &slog.HandlerOptions{Level: lv, ReplaceAttr: durationsAsStrings}
	switch format {
	case "":
		if isTerminalWriter(w) {
			return slog.New(slog.NewTextHandler(w, opts)), nil
		}
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	case logFormatText:
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case logFormatJSON:
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("log format must be text or json, not %q", format)
}

func durationsAsStrings(_ []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() == slog.KindDuration {
		return slog.String(a.Key, a.Value.Duration().String())
	}
	return a
}

// isTerminalWriter reports whether w is a character device.
func isTerminalWriter(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
