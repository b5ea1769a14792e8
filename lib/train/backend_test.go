package train

import "testing"

// TestTrainingConfig: the Go backend, named or by default, trains with one worker per op;
// other backends and explicit settings are left as they are.
func TestTrainingConfig(t *testing.T) {
	for in, want := range map[string]string{
		"":                            "go:intra_call_parallelism=1",
		"go":                          "go:intra_call_parallelism=1",
		"go:ops_sequential":           "go:ops_sequential,intra_call_parallelism=1",
		"go:intra_call_parallelism=2": "go:intra_call_parallelism=2",
		"xla:cuda":                    "xla:cuda",
	} {
		if got := trainingConfig(in); got != want {
			t.Errorf("trainingConfig(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestBackendErrors: an unknown backend is an error naming it, not a panic.
func TestBackendErrors(t *testing.T) {
	if _, err := newBackend("nosuch"); err == nil {
		t.Fatal("an unknown backend gave no error")
	}
}
