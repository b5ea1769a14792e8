package tfjs

import (
	"encoding/binary"
	"math"
	"strings"
	"testing"
)

func f64(v float64) *float64 { return &v }

// TestDecodeWeights decodes one weight of every supported storage from hand-built bytes
// whose values follow from the IEEE and TF.js definitions.
func TestDecodeWeights(t *testing.T) {
	var data []byte
	data = binary.LittleEndian.AppendUint32(data, math.Float32bits(-1.5)) // float32 [2]
	data = binary.LittleEndian.AppendUint32(data, math.Float32bits(3.25))
	data = binary.LittleEndian.AppendUint32(data, uint32(0xFFFFFFFE)) // int32 [1]: -2
	data = append(data, 0, 7)                                         // bool [2]
	data = append(data, 0, 10, 255)                                   // uint8 [3]
	data = binary.LittleEndian.AppendUint16(data, 1000)               // uint16 [1]
	data = binary.LittleEndian.AppendUint16(data, 0x3C00)             // float16 [3]: 1
	data = binary.LittleEndian.AppendUint16(data, 0xC000)             // -2
	data = binary.LittleEndian.AppendUint16(data, 0x3555)             // 0.333251953125
	manifest := Manifest{{
		Paths: []string{"a", "b"},
		Weights: []ManifestEntry{
			{Name: "f", Shape: []int{2}, DType: "float32"},
			{Name: "i", Shape: []int{1}, DType: "int32"},
			{Name: "b", Shape: []int{2}, DType: "bool"},
			{Name: "u8", Shape: []int{3}, DType: "float32", Quantization: &Quantization{DType: "uint8", Min: f64(-1), Scale: 0.5}},
			{Name: "u16", Shape: []int{}, DType: "float32", Quantization: &Quantization{DType: "uint16", Min: f64(2), Scale: 0.01}},
			{Name: "h", Shape: []int{3}, DType: "float32", Quantization: &Quantization{DType: "float16"}},
		},
	}}
	shards := map[string][]byte{"a": data[:5], "b": data[5:]} // a weight may span shards
	w, err := DecodeWeights("test.json", manifest, func(p string) ([]byte, error) { return shards[p], nil })
	if err != nil {
		t.Fatal(err)
	}
	check := func(name string, got []float32, want ...float32) {
		t.Helper()
		if len(got) != len(want) {
			t.Fatalf("%s: %v, want %v", name, got, want)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Errorf("%s[%d] = %v, want %v", name, i, got[i], want[i])
			}
		}
	}
	check("f", w["f"].Float, -1.5, 3.25)
	check("u8", w["u8"].Float, -1, 4, 126.5)
	check("u16", w["u16"].Float, float32(1000*0.01+2))
	check("h", w["h"].Float, 1, -2, 0.333251953125)
	if got := w["i"].Int; len(got) != 1 || got[0] != -2 {
		t.Errorf("i = %v, want [-2]", got)
	}
	if got := w["b"].Int; len(got) != 2 || got[0] != 0 || got[1] != 1 {
		t.Errorf("b = %v, want [0 1]", got)
	}
	if w["u8"].QMin != -1 || w["u8"].QScale != 0.5 {
		t.Errorf("u8 quantisation (%g, %g), want (-1, 0.5)", w["u8"].QMin, w["u8"].QScale)
	}
}

func TestDecodeWeightsErrors(t *testing.T) {
	four := []byte{1, 2, 3, 4}
	for _, c := range []struct {
		entry ManifestEntry
		data  []byte
		want  string
	}{
		{ManifestEntry{Name: "x", Shape: []int{2}, DType: "float32"}, four, "only 4 left"},
		{ManifestEntry{Name: "x", Shape: []int{1}, DType: "float32"}, append(four, 0), "hold 5"},
		{ManifestEntry{Name: "x", Shape: []int{1}, DType: "string"}, four, `"string" not supported`},
		{ManifestEntry{Name: "x", Shape: []int{-1}, DType: "float32"}, four, "negative dimension"},
		{ManifestEntry{Name: "x", Shape: []int{4}, DType: "float32", Quantization: &Quantization{DType: "uint8"}}, four, "without min"},
		{ManifestEntry{Name: "x", Shape: []int{1}, DType: "int32", Quantization: &Quantization{DType: "uint8", Min: f64(0)}}, four, "only float32"},
	} {
		m := Manifest{{Paths: []string{"s"}, Weights: []ManifestEntry{c.entry}}}
		_, err := DecodeWeights("m.json", m, func(string) ([]byte, error) { return c.data, nil })
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "m.json") {
			t.Errorf("%+v: error %v, want one naming m.json and containing %q", c.entry, err, c.want)
		}
	}
}
