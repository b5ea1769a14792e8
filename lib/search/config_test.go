package search

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestConfigFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "search.json")
	c := Config{Default: VariantBlend, TwoTowerDir: "/m/tt", MLPDir: "/m/mlp", MLPEncoders: [2]string{"glove-mean", "inception-pool"}, RerankDepth: RerankDepth}
	if err := WriteConfigFile(path, c); err != nil {
		t.Fatal(err)
	}
	got, err := ReadConfigFile(path)
	if err != nil || !reflect.DeepEqual(got, c) {
		t.Fatalf("read back %+v, %v; wrote %+v", got, err, c)
	}
	c.TwoTowerDirs, c.HubnessScale = []string{"/m/tt", "/m/tt-seed2"}, 30
	if err := WriteConfigFile(path, c); err != nil {
		t.Fatal(err)
	}
	if got, err := ReadConfigFile(path); err != nil || !reflect.DeepEqual(got, c) || !reflect.DeepEqual(got.TwoTowers(), c.TwoTowerDirs) {
		t.Fatalf("read back %+v, %v; wrote %+v", got, err, c)
	}
	for _, tc := range []struct{ json, want string }{
		{`{"default": "best"}`, `default variant "best" is not one of`},
		{`{"default": "mlp", "rerank_depth": 10}`, "two_tower_dir, mlp_dir and both mlp_encoders must be set"},
		{`{"default": "mlp", "two_tower_dir": "a", "mlp_dir": "b", "mlp_encoders": ["x", "y"]}`, "rerank_depth 0, want at least 1"},
		{`{"default": "mlp", "two_tower_dir": "a", "two_tower_dirs": ["b", "a"], "mlp_dir": "b", "mlp_encoders": ["x", "y"], "rerank_depth": 10}`,
			`two_tower_dirs must start with two_tower_dir "a"`},
		{`{"default": "mlp", "two_tower_dir": "a", "two_tower_dirs": ["a", "b", "a"], "mlp_dir": "b", "mlp_encoders": ["x", "y"], "rerank_depth": 10}`,
			`repeated folder "a"`},
		{`{"default": "mlp", "two_tower_dir": "a", "mlp_dir": "b", "mlp_encoders": ["x", "y"], "rerank_depth": 10, "hubness_scale": -1}`,
			"hubness_scale -1, want a finite β ≥ 0 (0: off)"},
		{`{"default": `, "unexpected end of JSON input"},
	} {
		os.WriteFile(path, []byte(tc.json), 0o644)
		if _, err := ReadConfigFile(path); err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: %v, want %q naming the file", tc.json, err, tc.want)
		}
	}
	if _, err := ReadConfigFile(filepath.Join(dir, "absent.json")); err == nil || !strings.Contains(err.Error(), "make report") {
		t.Errorf("missing config: %v", err)
	}
	if err := WriteConfigFile(path, Config{Default: "x"}); err == nil {
		t.Error("wrote an invalid config")
	}
}
