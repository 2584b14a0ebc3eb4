package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// System-wide configuration file of vdc serve (the .deb installs it).
const systemConfigFile = "/etc/vdc/vdc.yaml"

// discoverConfig picks vdc serve's configuration file: --config, else
// $VDC_CONFIG ("none": no file), else ./vdc.yaml, else /etc/vdc/vdc.yaml,
// else none (the defaults).
func discoverConfig(flag string, getenv func(string) string) (string, error) {
	if flag != "" {
		return flag, nil
	}
	switch p := getenv("VDC_CONFIG"); p {
	case "none":
		return "", nil
	case "":
	default:
		return p, nil
	}
	for _, p := range []string{"vdc.yaml", systemConfigFile} {
		_, err := os.Stat(p)
		if err == nil {
			return p, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("configuration %s: %w", p, err)
		}
	}
	return "", nil
}

// configSetting is one setting of vdc.yaml with the environment variable
// that overrides it.
type configSetting struct {
	Key, Env, Type string
	field          reflect.Value
}

// configSettings lists every setting of c (vdc.yaml's keys, dotted) with
// its variable: VDC_ and the key in upper snake case (repo.url →
// VDC_REPO_URL, reconcile.maxDeleteFraction → VDC_RECONCILE_MAX_DELETE_FRACTION).
func configSettings(c *serveConfig) []configSetting {
	var out []configSetting
	var walk func(v reflect.Value, prefix []string)
	walk = func(v reflect.Value, prefix []string) {
		t := v.Type()
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			tag := strings.Split(f.Tag.Get("yaml"), ",")[0]
			if tag == "" || tag == "-" {
				continue
			}
			path := append(append([]string(nil), prefix...), tag)
			fv := v.Field(i)
			if f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeOf(duration{}) {
				walk(fv, path)
				continue
			}
			out = append(out, configSetting{Key: strings.Join(path, "."), Env: envName(path), Type: typeName(f.Type), field: fv})
		}
	}
	walk(reflect.ValueOf(c).Elem(), nil)
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

func envName(path []string) string {
	var b strings.Builder
	b.WriteString("VDC")
	for _, p := range path {
		b.WriteByte('_')
		rs := []rune(p)
		for i, r := range rs {
			// A word starts at an upper-case letter after a lower-case one,
			// or at the last capital of an acronym ("SSHKey": SSH, Key).
			if i > 0 && unicode.IsUpper(r) && (unicode.IsLower(rs[i-1]) || i+1 < len(rs) && unicode.IsLower(rs[i+1])) {
				b.WriteByte('_')
			}
			b.WriteRune(unicode.ToUpper(r))
		}
	}
	return b.String()
}

func typeName(t reflect.Type) string {
	switch {
	case t == reflect.TypeOf(duration{}):
		return "duration"
	case t.Kind() == reflect.Pointer:
		return typeName(t.Elem())
	case t.Kind() == reflect.Float64:
		return "number"
	case t.Kind() == reflect.Int:
		return "whole number"
	case t.Kind() == reflect.Bool:
		return "boolean"
	}
	return t.Kind().String()
}

// applyConfigEnv sets every setting whose variable is set (after the file,
// before the flags).
func applyConfigEnv(c *serveConfig, getenv func(string) string) error {
	for _, s := range configSettings(c) {
		raw, ok := strings.TrimSpace(getenv(s.Env)), getenv(s.Env) != ""
		if !ok {
			continue
		}
		bad := func(err error) error {
			return fmt.Errorf("$%s (%s): %q is not a %s: %v", s.Env, s.Key, raw, s.Type, err)
		}
		f := s.field
		if f.Kind() == reflect.Pointer {
			f.Set(reflect.New(f.Type().Elem()))
			f = f.Elem()
		}
		switch {
		case f.Type() == reflect.TypeOf(duration{}):
			d, err := time.ParseDuration(raw)
			if err != nil {
				return bad(err)
			}
			f.Set(reflect.ValueOf(duration{d}))
		case f.Kind() == reflect.String:
			f.SetString(raw)
		case f.Kind() == reflect.Bool:
			v, err := strconv.ParseBool(raw)
			if err != nil {
				return bad(err)
			}
			f.SetBool(v)
		case f.Kind() == reflect.Int:
			v, err := strconv.Atoi(raw)
			if err != nil {
				return bad(err)
			}
			f.SetInt(int64(v))
		case f.Kind() == reflect.Float64:
			v, err := strconv.ParseFloat(raw, 64)
			if err != nil {
				return bad(err)
			}
			f.SetFloat(v)
		default:
			return fmt.Errorf("$%s: settings of type %s cannot be set from the environment", s.Env, f.Type())
		}
	}
	return nil
}

// ConfigTable is the markdown table of every vdc serve setting: key,
// variable, type and default (docs/operations.md carries it; a test keeps
// it in step).
func ConfigTable() string {
	def := defaultServeConfig()
	var b strings.Builder
	b.WriteString("| vdc.yaml key | environment variable | type | default |\n|---|---|---|---|\n")
	for _, s := range configSettings(&def) {
		v := s.field
		shown := ""
		switch {
		case v.Kind() == reflect.Pointer && v.IsNil():
			shown = "true"
		case v.Kind() == reflect.Pointer:
			shown = fmt.Sprint(v.Elem().Interface())
		case v.Type() == reflect.TypeOf(duration{}):
			shown = v.Interface().(duration).String()
		default:
			shown = fmt.Sprint(v.Interface())
		}
		if shown == "" {
			shown = "(none)"
		}
		fmt.Fprintf(&b, "| `%s` | `%s` | %s | `%s` |\n", s.Key, s.Env, s.Type, shown)
	}
	return b.String()
}
