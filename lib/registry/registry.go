// Package registry is a small named registry of factories, shared by the image and text
// encoder packages so both pick encoders by name the same way.
package registry

import (
	"fmt"
	"sort"
	"strings"
	"sync"
)

// Registry maps names to factories of T. The zero value is not usable; use New.
type Registry[T any] struct {
	kind      string
	mu        sync.Mutex
	factories map[string]func() (T, error)
	// join, when set (Joins), builds the value of a name "a+b" from its parts'.
	join func(name string, parts []T) (T, error)
}

// New returns an empty registry; kind ("image encoder") appears in error messages.
func New[T any](kind string) *Registry[T] {
	return &Registry[T]{kind: kind, factories: map[string]func() (T, error){}}
}

// Register adds a named factory; registering a name twice is a programming error.
func (r *Registry[T]) Register(name string, f func() (T, error)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.factories[name]; dup {
		panic(fmt.Sprintf("%s %q registered twice", r.kind, name))
	}
	r.factories[name] = f
}

// Joins lets Open build a name "a+b+…" that is not registered itself: each part is opened
// (it must be registered) and join makes one value of them.
func (r *Registry[T]) Joins(join func(name string, parts []T) (T, error)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.join = join
}

// Names lists the registered names, sorted.
func (r *Registry[T]) Names() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	names := make([]string, 0, len(r.factories))
	for n := range r.factories {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Open builds the named value; an unknown name gets an error listing the known ones. With
// Joins, a name "a+b" that is not registered is built from its registered parts.
func (r *Registry[T]) Open(name string) (T, error) {
	var zero T
	if f, ok := r.factory(name); ok {
		return f()
	}
	r.mu.Lock()
	join := r.join
	r.mu.Unlock()
	if join == nil || !strings.Contains(name, "+") {
		return zero, fmt.Errorf("unknown %s %q (have: %s)", r.kind, name, strings.Join(r.Names(), ", "))
	}
	parts := strings.Split(name, "+")
	vals := make([]T, len(parts))
	for i, p := range parts {
		f, ok := r.factory(p)
		if !ok {
			return zero, fmt.Errorf("%s %q: unknown part %q (have: %s)", r.kind, name, p, strings.Join(r.Names(), ", "))
		}
		v, err := f()
		if err != nil {
			return zero, err
		}
		vals[i] = v
	}
	return join(name, vals)
}

// factory returns the factory registered under name.
func (r *Registry[T]) factory(name string) (func() (T, error), bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f, ok := r.factories[name]
	return f, ok
}
