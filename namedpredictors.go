package dspy

import (
	"fmt"
	"reflect"
	"sort"
	"sync"
	"unsafe"
)

// NamedPredictor is a Predict and its path in a module tree.
type NamedPredictor struct {
	// Path is the dotted path of field names in snake_case:
	// "synthesize.predict" for a ChainOfThought held in field Synthesize,
	// "steps[1].predict" for one in a slice. A bare Predict is "self".
	Path    string
	Predict *Predict
}

// Submodules is implemented by modules whose children reflection cannot
// find (held in closures, interfaces built at run time, ...) or that want
// explicit names. Its names replace the field walk for that module.
type Submodules interface {
	Submodules() []NamedModule
}

// NamedModule is a child module and its path segment.
type NamedModule struct {
	Name   string
	Module Module
}

// NamedPredictors lists every Predict in m's tree with its path, depth first
// in field order. Struct fields are found by reflection (exported or not,
// cached per type); a Predict reachable twice is listed once, at its first
// path. Streaming binds listeners by these paths.
func NamedPredictors(m Module) []NamedPredictor {
	if p, ok := m.(*Predict); ok {
		return []NamedPredictor{{Path: "self", Predict: p}}
	}
	var out []NamedPredictor
	seen := map[*Predict]bool{}
	visited := map[uintptr]bool{}
	walkModule(reflect.ValueOf(m), "", &out, seen, visited)
	return out
}

var predictType = reflect.TypeFor[*Predict]()
var moduleType = reflect.TypeFor[Module]()
var submodulesType = reflect.TypeFor[Submodules]()

func join(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "." + name
}

func walkModule(v reflect.Value, path string, out *[]NamedPredictor, seen map[*Predict]bool, visited map[uintptr]bool) {
	if !v.IsValid() {
		return
	}
	if v.Kind() == reflect.Interface {
		if v.IsNil() {
			return
		}
		v = v.Elem()
	}
	if v.Type() == predictType {
		if v.IsNil() {
			return
		}
		p := (*Predict)(v.UnsafePointer())
		if !seen[p] {
			seen[p] = true
			if path == "" {
				path = "self"
			}
			*out = append(*out, NamedPredictor{Path: path, Predict: p})
		}
		return
	}
	if v.Kind() == reflect.Pointer {
		if v.IsNil() || visited[v.Pointer()] {
			return
		}
		visited[v.Pointer()] = true
	}
	if v.CanInterface() && v.Type().Implements(submodulesType) {
		for _, c := range v.Interface().(Submodules).Submodules() {
			walkModule(reflect.ValueOf(c.Module), join(path, c.Name), out, seen, visited)
		}
		return
	}
	if v.Kind() == reflect.Pointer {
		walkModule(v.Elem(), path, out, seen, visited)
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		if !v.CanAddr() {
			// A module held by value: copy it so unexported fields can be
			// read through an addressable value.
			c := reflect.New(v.Type()).Elem()
			c.Set(v)
			v = c
		}
		for _, f := range structFields(v.Type()) {
			fv := v.Field(f.index)
			if !f.exported {
				fv = reflect.NewAt(fv.Type(), unsafe.Pointer(fv.UnsafeAddr())).Elem()
			}
			walkModule(fv, join(path, f.name), out, seen, visited)
		}
	case reflect.Slice, reflect.Array:
		for i := 0; i < v.Len(); i++ {
			walkModule(v.Index(i), fmt.Sprintf("%s[%d]", path, i), out, seen, visited)
		}
	case reflect.Map:
		if v.Type().Key().Kind() != reflect.String {
			return
		}
		keys := v.MapKeys()
		sort.Slice(keys, func(i, j int) bool { return keys[i].String() < keys[j].String() })
		for _, k := range keys {
			walkModule(v.MapIndex(k), fmt.Sprintf("%s[%s]", path, k.String()), out, seen, visited)
		}
	}
}

type fieldInfo struct {
	index    int
	name     string
	exported bool
}

var fieldCache sync.Map // reflect.Type -> []fieldInfo

// structFields lists the fields of t that can hold modules.
func structFields(t reflect.Type) []fieldInfo {
	if v, ok := fieldCache.Load(t); ok {
		return v.([]fieldInfo)
	}
	var fs []fieldInfo
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		if sf.Name == "_" || !canHoldModule(sf.Type) {
			continue
		}
		name := snake(sf.Name)
		if tag, ok := sf.Tag.Lookup("dspy"); ok && tag != "" {
			name = tag
		}
		fs = append(fs, fieldInfo{index: i, name: name, exported: sf.IsExported()})
	}
	fieldCache.Store(t, fs)
	return fs
}

func canHoldModule(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Pointer:
		return t.Elem().Kind() == reflect.Struct
	case reflect.Interface:
		return true
	case reflect.Struct:
		return t.Implements(moduleType) || reflect.PointerTo(t).Implements(moduleType)
	case reflect.Slice, reflect.Array, reflect.Map:
		return canHoldModule(t.Elem())
	}
	return false
}
