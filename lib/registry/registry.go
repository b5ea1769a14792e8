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

// Open builds the named value; an unknown name gets an error listing the known ones.
func (r *Registry[T]) Open(name string) (T, error) {
	r.mu.Lock()
	f, ok := r.factories[name]
	r.mu.Unlock()
	if !ok {
		var zero T
		return zero, fmt.Errorf("unknown %s %q (have: %s)", r.kind, name, strings.Join(r.Names(), ", "))
	}
	return f()
}
