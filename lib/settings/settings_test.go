package settings

import (
	"strings"
	"testing"
)

type knobs struct {
	Epochs int     `json:"max_epochs"`
	Rate   float64 `json:"learning_rate"`
	Hidden []int   `json:"hidden"`
	Std    bool    `json:"standardize"`
	Loss   string  `json:"loss"`
	Seed   uint64  `json:"seed"`
}

func TestApply(t *testing.T) {
	a, err := Parse("mlp.max_epochs=50; mlp.learning_rate = 3e-4\nmlp.hidden=[256,64];mlp.standardize=false;mlp.loss=huber;mlp.seed=7;twotower.dim=64")
	if err != nil {
		t.Fatal(err)
	}
	k := knobs{Epochs: 200, Rate: 1e-3, Hidden: []int{128}, Std: true, Loss: "mse"}
	if err := Apply(&k, "mlp", a); err != nil {
		t.Fatal(err)
	}
	want := knobs{Epochs: 50, Rate: 3e-4, Hidden: []int{256, 64}, Std: false, Loss: "huber", Seed: 7}
	if k.Epochs != want.Epochs || k.Rate != want.Rate || len(k.Hidden) != 2 || k.Hidden[1] != 64 || k.Std || k.Loss != "huber" || k.Seed != 7 {
		t.Fatalf("got %+v, want %+v", k, want)
	}
	if err := CheckKnown(a); err == nil || !strings.Contains(err.Error(), "twotower.dim") {
		t.Fatalf("an assignment no section took passed: %v", err)
	}
}

func TestErrors(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"epochs", "want name=value"},
		{"epochs=3", "want section.name=value"},
		{"mlp.max_epochs=many", "mlp.max_epochs=many: want an integer"},
		{"mlp.hidden=12,", "want JSON"},
		{"mlp.nope=1", `mlp has no setting "nope"`},
		{"mlp.standardize=maybe", "want true or false"},
	} {
		a, err := Parse(c.in)
		if err == nil {
			var k knobs
			err = Apply(&k, "mlp", a)
		}
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: got %v, want an error with %q", c.in, err, c.want)
		}
	}
}

func TestEnv(t *testing.T) {
	t.Setenv(Env, "study.seeds=3")
	a, err := Current()
	if err != nil || a["study.seeds"] != "3" {
		t.Fatalf("got %v, %v", a, err)
	}
	t.Setenv(Env, "seeds")
	if _, err := Current(); err == nil || !strings.Contains(err.Error(), Env) {
		t.Fatalf("a bad $%s gave %v", Env, err)
	}
}
