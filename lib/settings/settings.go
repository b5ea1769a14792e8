// Package settings lets one run change the study's hyperparameters without editing code,
// as GoMLX's examples do: assignments "name=value" separated by ";" (or new lines), where a
// name is a section and a setting's JSON name ("mlp.max_epochs=50;twotower.dim=128;
// study.seeds=3"). They come from, in order (a later one wins):
//
//   - the environment variable WITH_SENSE_SET (`make report SET="..."` and `withsense
//     notebook -set "..."` pass it to the kernel; `%env WITH_SENSE_SET=...` in a notebook keeps
//     it for the following cells);
//   - the -set flag of the program (`%% -set="mlp.max_epochs=50"` in a GoNB cell; the command
//     line's -set).
//
// Each section's defaults live with their code (regress.DefaultMLPSettings,
// retrieval.DefaultSettings, study's Config); Apply overrides fields of such a struct. The
// settings used are part of every cache key and recorded in metrics.json.
package settings

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// Env names the environment variable read by Current.
const Env = "WITH_SENSE_SET"

// Flag is the -set flag on the program's command line (flag.CommandLine). GoNB parses it
// for a cell started with `%% -set=...`.
var Flag = flag.String("set", "", `settings for this run, e.g. "mlp.max_epochs=50;study.seeds=3" (see package lib/settings)`)

// Assignments maps "section.name" to the value written for it.
type Assignments map[string]string

// Parse reads "a.b=1; c.d=x" (separators ";" or new lines; spaces around names ignored).
func Parse(s string) (Assignments, error) {
	a := Assignments{}
	for _, part := range strings.FieldsFunc(s, func(r rune) bool { return r == ';' || r == '\n' }) {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, value, ok := strings.Cut(part, "=")
		name = strings.TrimSpace(name)
		if !ok || name == "" {
			return nil, fmt.Errorf("setting %q: want name=value", part)
		}
		if !strings.Contains(name, ".") {
			return nil, fmt.Errorf("setting %q: want section.name=value (e.g. mlp.max_epochs=50)", part)
		}
		a[name] = strings.TrimSpace(value)
	}
	return a, nil
}

var (
	known   = map[string]bool{}
	knownMu sync.Mutex
)

// Current returns the run's assignments: $WITH_SENSE_SET, then the -set flag.
func Current() (Assignments, error) {
	a, err := Parse(os.Getenv(Env))
	if err != nil {
		return nil, fmt.Errorf("$%s: %w", Env, err)
	}
	if !flag.Parsed() {
		return a, nil
	}
	f, err := Parse(*Flag)
	if err != nil {
		return nil, fmt.Errorf("-set: %w", err)
	}
	for k, v := range f {
		a[k] = v
	}
	return a, nil
}

// Apply sets the fields of *dst (a struct) named by the assignments of section, by their
// JSON names: numbers, booleans, strings and lists (as JSON, e.g. "[256,64]"). An unknown
// name or a value of the wrong type is an error naming both.
func Apply(dst any, section string, a Assignments) error {
	v := reflect.ValueOf(dst)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return fmt.Errorf("settings.Apply: want a pointer to a struct, got %T", dst)
	}
	fields := jsonFields(v.Elem().Type())
	knownMu.Lock()
	for name := range fields {
		known[section+"."+name] = true
	}
	knownMu.Unlock()
	for _, full := range sortedKeys(a) {
		sec, name, _ := strings.Cut(full, ".")
		if sec != section {
			continue
		}
		idx, ok := fields[name]
		if !ok {
			return fmt.Errorf("setting %s: %s has no setting %q (it has %s)", full, section, name, strings.Join(sortedKeys(fields), ", "))
		}
		f := v.Elem().FieldByIndex(idx)
		if err := set(f, a[full]); err != nil {
			return fmt.Errorf("setting %s=%s: %w", full, a[full], err)
		}
	}
	return nil
}

// CheckKnown returns an error for an assignment that no Apply so far could take (a typo).
func CheckKnown(a Assignments) error {
	knownMu.Lock()
	defer knownMu.Unlock()
	for _, k := range sortedKeys(a) {
		if !known[k] {
			return fmt.Errorf("setting %s: no such setting", k)
		}
	}
	return nil
}

func set(f reflect.Value, s string) error {
	switch f.Kind() {
	case reflect.String:
		f.SetString(s)
		return nil
	case reflect.Bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return fmt.Errorf("want true or false")
		}
		f.SetBool(b)
		return nil
	case reflect.Int, reflect.Int64, reflect.Int32:
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return fmt.Errorf("want an integer")
		}
		f.SetInt(n)
		return nil
	case reflect.Uint, reflect.Uint64, reflect.Uint32:
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return fmt.Errorf("want a non-negative integer")
		}
		f.SetUint(n)
		return nil
	case reflect.Float64, reflect.Float32:
		x, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return fmt.Errorf("want a number")
		}
		f.SetFloat(x)
		return nil
	}
	// Lists and anything else: JSON.
	p := reflect.New(f.Type())
	if err := json.Unmarshal([]byte(s), p.Interface()); err != nil {
		return fmt.Errorf("want JSON for %s: %v", f.Type(), err)
	}
	f.Set(p.Elem())
	return nil
}

// jsonFields maps the JSON names of t's exported fields to their index.
func jsonFields(t reflect.Type) map[string][]int {
	out := map[string][]int{}
	for i := range t.NumField() {
		sf := t.Field(i)
		if !sf.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = sf.Name
		}
		out[name] = sf.Index
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
