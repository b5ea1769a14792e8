// Copyright 2023-2026 The GoMLX Authors. SPDX-License-Identifier: Apache-2.0

// Package scoped provides a mapping from a string to any data type that is "scoped".
package scoped

import (
	"iter"
	"maps"
	"strings"

	"github.com/gomlx/compute/support/xslices"
)

// ParamValue is returned by Params.Iter()
type ParamValue struct {
	Scope, Key string
	Value      any
}

// Params provides a mapping from string to any data type that is "scoped":
//
//   - For every scope there is a map of string to data.
//   - Accessing a key triggers a search from the current scope up to the root scope, the
//     first result found is returned.
//
// Example: let's say the current Params hold:
//
//	Scope: "/": { "x":10, "y": 20, "z": 40 }
//	Scope: "/a": { "y": 30 }
//	Scope: "/a/b": { "x": 100 }
//
//	Params.Get("/a/b", "x") -> 100
//	Params.Get("/a/b", "y") -> 30
//	Params.Get("/a/b", "z") -> 40
//	Params.Get("/a/b", "w") -> Not found.
//
// Notice that "/" (== ScopeSeparator constant) separates parts of the scope path, and the root
// scope is referred to as "/". There is no "empty" scope, and every scope name must start with
// a ScopeSeparator.
//
// The Context object uses Params to store the normal hyperparameters (see `Context.GetParam` and `Context.SetParam`)
// and to store the graph hyperparameters (see `Context.GetGraphParam` and `Context.SetGraphParam`).
//
// Usually there will be no need for the end user to use this.
type Params struct {
	Separator  string
	scopeToMap map[string]map[string]any
}

// New create an empy scopedParams.
func New(scopeSeparator string) *Params {
	return &Params{
		Separator:  scopeSeparator,
		scopeToMap: make(map[string]map[string]any),
	}
}

// Clone returns a deep copy of the scopedParams.
func (p *Params) Clone() *Params {
	newScopedParams := New(p.Separator)
	for scope, dataMap := range p.scopeToMap {
		newScopedParams.scopeToMap[scope] = make(map[string]any)
		maps.Copy(newScopedParams.scopeToMap[scope], dataMap)
	}
	return newScopedParams
}

// Set sets the value for the given key, in the given scope.
func (p *Params) Set(scope, key string, value any) {
	dataMap, found := p.scopeToMap[scope]
	if found && dataMap != nil {
		dataMap[key] = value
	} else {
		dataMap := make(map[string]any)
		dataMap[key] = value
		p.scopeToMap[scope] = dataMap
	}
}

// Get retrieves the value for the given key in the given scope or any parent scope.
// E.g: Get("/a/b", "myKey") will search for "myKey" in scopes "/a/b", "/a" and "/"
// consecutively until "myKey" is found.
//
// It returns the first value found if any, and whether some value was found.
func (p *Params) Get(scope, key string) (value any, found bool) {
	scopeParts := strings.Split(scope, p.Separator)
	for ii := len(scopeParts) - 1; ii >= 0; ii-- {
		var dataMap map[string]any
		dataMap, found = p.scopeToMap[scope]
		if found && dataMap != nil {
			value, found = dataMap[key]
			if found {
				return
			}
		}
		scope = scope[:len(scope)-len(scopeParts[ii])]
		if ii > 1 {
			// Remove tailing separator, except for the root scope ("/").
			scope = scope[:len(scope)-len(p.Separator)]
		}
	}
	return nil, false
}

// Enumerate enumerates all parameters stored in the scopedParams structure and calls the given closure with
// them.
func (p *Params) Enumerate(fn func(scope, key string, value any)) {
	for pValue := range p.Iter() {
		fn(pValue.Scope, pValue.Key, pValue.Value)
	}
}

// Iter returns an iterator over all parameters.
func (p *Params) Iter() iter.Seq[ParamValue] {
	return func(yield func(ParamValue) bool) {
		scopes := xslices.SortedKeys(p.scopeToMap)
		for _, scope := range scopes {
			keyValues := p.scopeToMap[scope]
			keys := xslices.SortedKeys(keyValues)
			for _, key := range keys {
				value := keyValues[key]
				if !yield(ParamValue{Scope: scope, Key: key, Value: value}) {
					return
				}
			}
		}
	}
}
