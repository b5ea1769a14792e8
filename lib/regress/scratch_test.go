package regress

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/gomlx/compute"
	_ "github.com/gomlx/compute/gobackend"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
)

func TestScratchGram(t *testing.T) {
	n, p := 4000, 2148
	r := rand.New(rand.NewPCG(1, 2))
	x32 := make([]float32, n*p)
	x64 := make([]float64, n*p)
	for i := range x32 {
		x32[i] = float32(r.NormFloat64() * 0.03)
		x64[i] = float64(x32[i])
	}
	b, err := compute.New()
	if err != nil {
		t.Fatal(err)
	}
	t.Log(b.Name(), b.Description())
	e := graph.MustNewExec(b, func(x *graph.Node) *graph.Node {
		return graph.Dot(x, x).General([]int{0}, nil, []int{0}, nil)
	})
	for _, x := range []*tensors.Tensor{tensors.FromFlatDataAndDimensions(x32, n, p), tensors.FromFlatDataAndDimensions(x64, n, p)} {
		for k := 0; k < 2; k++ {
			t0 := time.Now()
			out, err := e.Call1(x)
			if err != nil {
				t.Fatal(err)
			}
			t.Log(out.Shape(), time.Since(t0))
		}
	}
}
