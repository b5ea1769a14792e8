/*
 *	Copyright 2024 Jan Pfeifer
 *
 *	Licensed under the Apache License, Version 2.0 (the "License");
 *	you may not use this file except in compliance with the License.
 *	You may obtain a copy of the License at
 *
 *	http://www.apache.org/licenses/LICENSE-2.0
 *
 *	Unless required by applicable law or agreed to in writing, software
 *	distributed under the License is distributed on an "AS IS" BASIS,
 *	WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
 *	See the License for the specific language governing permissions and
 *	limitations under the License.
 */

package pos

import (
	"fmt"

	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/graph"
	. "github.com/gomlx/gomlx/core/graph"
	. "github.com/gomlx/gomlx/support/exceptions"
)

// RoPE implements rotary position embeddings ("RoFormer", see [1]).
// It splits the embedding (aka. features) axis into pairs, and rotates
// them at different frequencies, according to position.
//
// RoPE implements the Encoder interface and can be used with MultiHeadAttention.WithPositionEncoder().
//
// [1] "RoFormer: Enhanced Transformer with Rotary Position Embedding", https://arxiv.org/abs/2104.09864
type RoPE struct {
	BaseFreq            float64
	DimStart            int
	DimEnd              int
	Interleaved         bool    // If true, rotation pairs are at even/odd indices; if false, split first-half/second-half
	LinearScalingFactor float64 // If > 0 and != 1.0, positions are divided by this factor before RoPE.
	FrequencyDivisor    int     // Optional: if > 0, specifies the divisor (typically the full head dimension) to use in frequency calculations.
}

// WithFrequencyDivisor sets the divisor to be used in the frequency calculations.
// This is useful for proportional/partial RoPE where RoPE is applied to a partial dimension range,
// but the frequency base is still computed using the full head dimension.
func (r *RoPE) WithFrequencyDivisor(frequencyDivisor int) *RoPE {
	r.FrequencyDivisor = frequencyDivisor
	return r
}

// NewRoPE creates a RoPE positional embedding that applies to the entire embedding axis.
//
// Parameters:
//   - baseFreq: Base frequency for rotary embeddings, typically 10000.0
//
// Returns:
//   - A RoPE instance configured to apply to the full embedding dimension
//
// Example:
//
//	rope := NewRoPE(10000.0)
//	embedded := rope.Apply(x, positionIndices)
func NewRoPE(baseFreq float64) *RoPE {
	return &RoPE{
		BaseFreq: baseFreq,
		DimStart: 0,
		DimEnd:   -1, // -1 means use full dimension
	}
}

// NewRoPEWithDimRange creates a RoPE that applies only to [dimStart:dimEnd].
// This is useful for applying RoPE to only a slice of the embedding (or feature) axis.
//
// Parameters:
//   - baseFreq: Base frequency for rotary embeddings, typically 10000.0
//   - dimStart: Start index of the dimension range (inclusive), must be >= 0
//   - dimEnd: End index of the dimension range (exclusive), or -1 for end of axis
//
// Returns:
//   - A RoPE instance configured to apply to the specified dimension range
//
// Example:
//
//	// Apply RoPE only to dimensions 0-64 of a 128-dim embedding
//	rope := NewRoPEWithDimRange(10000.0, 0, 64)
//	embedded := rope.Apply(x, positionIndices)
func NewRoPEWithDimRange(baseFreq float64, dimStart, dimEnd int) *RoPE {
	return &RoPE{
		BaseFreq: baseFreq,
		DimStart: dimStart,
		DimEnd:   dimEnd,
	}
}

// Name returns the name of the encoder.
func (r *RoPE) Name() string {
	return fmt.Sprintf("RoPE(baseFreq=%.1f, dimStart=%d, dimEnd=%d, interleaved=%t)", r.BaseFreq, r.DimStart, r.DimEnd, r.Interleaved)
}

// WithInterleaved sets whether rotation pairs are at interleaved indices.
// If true, pairs are at even/odd indices (x[..., 0], x[..., 1]).
// If false (default), pairs are split first-half/second-half (x[..., :dim/2], x[..., dim/2:]).
//
// Returns the modified RoPE for method chaining.
func (r *RoPE) WithInterleaved(interleaved bool) *RoPE {
	r.Interleaved = interleaved
	return r
}

// WithLinearScaling sets the linear scaling factor for the positional indices.
// This is used by models that use linear RoPE scaling (e.g. Gemma 3 full-attention layers).
// The positional indices are divided by this factor before applying the rotary embedding.
//
// Returns the modified RoPE for method chaining.
func (r *RoPE) WithLinearScaling(factor float64) *RoPE {
	r.LinearScalingFactor = factor
	return r
}

// EncodeQK implements the QKEncoder interface.
// It applies rotary position embeddings to query and key tensors using the provided position indices.
// The rotation is applied on a range of frequencies multiplied by the position
// of each element, as specified by positionIndices.
//
// Parameters:
//   - q, k: Input tensors, shaped [batchSize..., sequenceLength, ...].
//   - positionIndices: Position indices tensor shaped [[batchSize...,] seqLen] where each element
//     contains the position value for that token. The batchSize dimension
//     is broadcast to match q's batch dimensions if not set. Examples:
//   - Sequential positions: [0, 1, 2, 3]
//   - Rotating cache with wrap: [1022, 1023, 0, 1, 2]
//   - Batched multi-client: [[5,6,7], [127,128,129]]
//   - seqAxis: The axis index in q and k that represents the sequence dimension.
//     For standard [..., seq_len, head_dim] tensors this is q.Rank()-2.
//     For BSHD layout [batch, seq, heads, dim] this is 1.
//     This makes the encoder layout-proof: callers specify which axis is seq.
//     Negative values are ok, they are counted from the end.
//
// Returns:
//   - Tensors with positional information applied, same shape as q and k.
//
// Example:
//
//	rope := NewRoPE(10000.0)
//	// q, k have shape [batch, seq_len, embed_dim]
//	// positions has shape [batch, seq_len] with values like [0, 1, 2, ...]
//	q_rot, k_rot := rope.EncodeQK(q, k, positions, q.Rank()-2)
func (r *RoPE) EncodeQK(q, k *Node, positionIndices *Node, seqAxis int) (*Node, *Node) {
	if r.LinearScalingFactor > 0 && r.LinearScalingFactor != 1.0 {
		positionIndices = DivScalar(positionIndices, r.LinearScalingFactor)
	}
	if r.DimStart == 0 && r.DimEnd == -1 {
		return applyRoPE(q, positionIndices, r.BaseFreq, seqAxis, r.Interleaved, r.FrequencyDivisor),
			applyRoPE(k, positionIndices, r.BaseFreq, seqAxis, r.Interleaved, r.FrequencyDivisor)
	}
	dimEnd := r.DimEnd
	if dimEnd == -1 {
		dimEnd = q.Shape().Dimensions[q.Shape().Rank()-1]
	}
	qSeqAxis := graph.MustAdjustAxis(seqAxis, q) // Adjust negative axis values to corresponding positive.
	kSeqAxis := graph.MustAdjustAxis(seqAxis, k)
	return applyRoPEWithCustomDim(q, positionIndices, r.BaseFreq, r.DimStart, dimEnd, qSeqAxis, r.Interleaved, r.FrequencyDivisor),
		applyRoPEWithCustomDim(k, positionIndices, r.BaseFreq, r.DimStart, dimEnd, kSeqAxis, r.Interleaved, r.FrequencyDivisor)
}

// RoPEWithCosSin implements the Encoder interface using pre-computed cos and sin tensors.
// This is useful for ONNX inference where cos/sin are provided as cached inputs rather than
// being computed from a base frequency and position indices.
//
// Use NewRoPEWithCosSin to create an instance.
type RoPEWithCosSin struct {
	cos, sin    *Node
	interleaved bool
}

// NewRoPEWithCosSin creates a RoPE encoder using pre-computed cos and sin tensors.
// This is useful for ONNX inference where cos/sin are provided as cached inputs.
//
// This **does not implement any of the Encoder interfaces**, it's just a direct RoPE implementation.
//
// Parameters:
//   - cos: Pre-computed cosine values, broadcastable to [..., seq_len, rotary_dim/2]
//   - sin: Pre-computed sine values, same shape as cos
//
// Returns:
//   - A RoPEWithCosSin instance that implements the Encoder interface
//
// Example:
//
//	// For ONNX inference with pre-computed cos/sin:
//	rope := NewRoPEWithCosSin(cosTensor, sinTensor).WithInterleaved(true)
//	embedded := rope.Apply(x, nil, x.Rank()-2) // positionIndices not used
func NewRoPEWithCosSin(cos, sin *Node) *RoPEWithCosSin {
	return &RoPEWithCosSin{
		cos:         cos,
		sin:         sin,
		interleaved: false,
	}
}

// Name implements the Encoder interface.
func (r *RoPEWithCosSin) Name() string {
	return fmt.Sprintf("RoPEWithCosSin(interleaved=%t)", r.interleaved)
}

// WithInterleaved sets whether rotation pairs are at interleaved indices.
// If true, pairs are at even/odd indices (x[..., 0], x[..., 1]).
// If false (default), pairs are split first-half/second-half (x[..., :dim/2], x[..., dim/2:]).
//
// Returns the modified RoPEWithCosSin for method chaining.
func (r *RoPEWithCosSin) WithInterleaved(interleaved bool) *RoPEWithCosSin {
	r.interleaved = interleaved
	return r
}

// Encode applies rotary position embeddings to a single tensor (as opposed to the usual EncodeQK).
//
// It's not part of the Encoder interface, but it's provided to direct RoPE implementation.
func (r *RoPEWithCosSin) Encode(x *Node, seqAxis int) *Node {
	return applyWithCosSin(x, r.cos, r.sin, seqAxis, r.interleaved)
}

// applyWithCosSin applies rotary position embeddings using pre-computed cos and sin tensors.
// This is the internal implementation used by both RoPE and RoPEWithCosSin.
//
// Parameters:
//   - x: Input tensor shaped [..., seqLen, ..., headDim], where seqAxis identifies the sequence axis.
//   - cos: Pre-computed cosine values, shaped [seqLen, rotary_dim/2].
//   - sin: Pre-computed sine values, same shape as cos.
//   - seqAxis: The axis in x that represents the sequence dimension.
//   - interleaved: If true, rotation pairs are at even/odd indices (x[..., 0], x[..., 1]).
//     If false, pairs are split first-half/second-half (x[..., :dim/2], x[..., dim/2:]).
//
// Returns:
//   - Tensor with rotary embeddings applied, same shape as x.
//     If cos/sin cover fewer dimensions than x's last axis (partial rotation),
//     the remaining dimensions are passed through unchanged.
func applyWithCosSin(x, cos, sin *Node, seqAxis int, interleaved bool) *Node {
	rank := x.Shape().Rank()
	embedDim := x.Shape().Dimensions[rank-1]

	// Determine rotary dimension from cos shape: last dim is rotary_dim/2
	cosRank := cos.Shape().Rank()
	rotaryHalfDim := cos.Shape().Dimensions[cosRank-1]
	rotaryDim := rotaryHalfDim * 2

	// Split into rotatable and pass-through portions if partial rotation
	var xRotate, xPass *Node
	if rotaryDim < embedDim {
		xRotate = Slice(x, AxisRange().Spacer(), AxisRange(0, rotaryDim))
		xPass = Slice(x, AxisRange().Spacer(), AxisRange(rotaryDim, embedDim))
	} else {
		xRotate = x
		xPass = nil
	}

	// Split xRotate into two halves for rotation
	var x1, x2 *Node
	if interleaved {
		// Interleaved: x1 = even indices, x2 = odd indices
		x1 = Slice(xRotate, AxisRange().Spacer(), AxisRange(0, rotaryDim).Stride(2))
		x2 = Slice(xRotate, AxisRange().Spacer(), AxisRange(1, rotaryDim).Stride(2))
	} else {
		// Non-interleaved: split in half
		halfDim := rotaryDim / 2
		x1 = Slice(xRotate, AxisRange().Spacer(), AxisRange(0, halfDim))
		x2 = Slice(xRotate, AxisRange().Spacer(), AxisRange(halfDim, rotaryDim))
	}

	// Broadcast cos/sin to match x1's shape.
	// cos/sin start as [seqLen, rotary_dim/2]. We need to expand them to match x1's full shape
	// which is [..., seqLen, ..., rotary_dim/2] where seqAxis identifies the seq dimension.
	//
	// Strategy: first add leading size-1 axes so that seqAxis aligns, then insert size-1 axes
	// for any dimensions between seqAxis and the last axis, then broadcast.
	x1Shape := x1.Shape()

	// Normalise seqAxis.
	canonicalSeqAxis := seqAxis
	if canonicalSeqAxis < 0 {
		canonicalSeqAxis += rank
	}

	// Step 1: add leading size-1 axes so that the seq dimension of cos/sin sits at canonicalSeqAxis.
	// cos/sin have rank 2: [seqLen, halfDim]. After ExpandLeftToRank(canonicalSeqAxis+2) they become
	// [1, ..., 1, seqLen, halfDim] with seqLen at canonicalSeqAxis.
	cos = ExpandLeftToRank(cos, canonicalSeqAxis+2)
	sin = ExpandLeftToRank(sin, canonicalSeqAxis+2)

	// Step 2: insert size-1 axes for each dimension between seqAxis and the last axis
	// (e.g. the heads axis in BSHD layout).
	for cos.Rank() < x1Shape.Rank() {
		cos = ExpandAxes(cos, -2)
		sin = ExpandAxes(sin, -2)
	}

	cos = BroadcastLike(cos, x1)
	sin = BroadcastLike(sin, x1)

	// Apply rotation: rotated_x1 = x1*cos - x2*sin, rotated_x2 = x1*sin + x2*cos
	rotatedX1 := Sub(Mul(x1, cos), Mul(x2, sin))
	rotatedX2 := Add(Mul(x1, sin), Mul(x2, cos))

	// Recombine rotated values
	var xRotated *Node
	if interleaved {
		// Interleave real and imag back together
		// Stack along new axis then reshape to interleave
		stacked := Stack([]*Node{rotatedX1, rotatedX2}, -1)
		specs := DimensionSpecsFor(stacked)
		newSpecs := append(specs[:len(specs)-2], StaticDim(rotaryDim))
		xRotated = DynamicReshape(stacked, newSpecs...)
	} else {
		// Non-interleaved: concatenate
		xRotated = Concatenate([]*Node{rotatedX1, rotatedX2}, -1)
	}

	// Combine rotated and pass-through portions
	if xPass != nil {
		return Concatenate([]*Node{xRotated, xPass}, -1)
	}
	return xRotated
}

// applyRoPE applies rotary position embeddings to the last dimension (even length).
// Reference: RoFormer (https://arxiv.org/abs/2104.09864).
//
// Parameters:
//   - x: Input tensor shaped [..., seqLen, ..., headDim], where seqAxis identifies the sequence axis.
//     The last dim must be even.
//   - positionIndices: Position indices shaped [..., seq_len]
//   - baseFreq: Base frequency for computing rotation angles
//   - seqAxis: The axis in x that represents the sequence dimension: it must be already normalized to positive.
//   - interleaved: If true, rotation pairs are at even/odd indices; if false, split first-half/second-half
//
// Returns:
//   - Tensor with rotary embeddings applied, same shape as x
func applyRoPE(x *Node, positionIndices *Node, baseFreq float64, seqAxis int, interleaved bool, frequencyDivisor int) *Node {
	g := x.Graph()
	shape := x.Shape()
	dtype := shape.DType
	rank := shape.Rank()

	// Extract dimensions
	seqLen := shape.Dimensions[seqAxis]
	embedDim := shape.Dimensions[rank-1]

	// RoPE is applied to pairs of dimensions, so embedDim must be even
	if embedDim%2 != 0 {
		Panicf("RoPE requires even embedding dimension, got %d", embedDim)
	}

	// Use provided position indices and convert to appropriate dtype
	// Position indices should be shaped [..., seq_len]
	positions := ConvertDType(positionIndices, dtype)

	// Validate position indices shape - last dimension must match seqLen
	posRank := positions.Rank()
	posSeqLen := positions.Shape().Dimensions[posRank-1]
	if posRank == 0 || (seqLen != shapes.DynamicDim && posSeqLen != shapes.DynamicDim && posSeqLen != seqLen) {
		Panicf("RoPE positionIndices last dimension must match seq_len=%d, got shape %s", seqLen, positions.Shape())
	}

	// Compute frequency for each pair of dimensions
	// freq_i = 1 / (baseFreq^(2i/embedDim)) for i in [0, embedDim/2)
	// Shape: [embedDim/2]
	halfDim := embedDim / 2
	dimIndices := Iota(g, shapes.Make(dtype, halfDim), 0)

	denomDim := embedDim
	if frequencyDivisor > 0 {
		denomDim = frequencyDivisor
	}
	dimIndices = MulScalar(dimIndices, 2.0/float64(denomDim))

	// Create base frequency tensor and compute freqs = 1 / (baseFreq^dimIndices)
	baseFreqTensor := Const(g, []float64{baseFreq})
	baseFreqTensor = ConvertDType(baseFreqTensor, dtype)
	freqs := Pow(baseFreqTensor, dimIndices)
	freqs = Reciprocal(freqs)

	// Compute angles: outer product of positions and frequencies
	// Shape: [seqLen, embedDim/2]
	positions = ExpandDims(positions, -1) // [seqLen, 1]
	freqs = ExpandDims(freqs, 0)          // [1, embedDim/2]
	angles := Mul(positions, freqs)       // [seqLen, embedDim/2]

	// Compute cos and sin of angles
	cosAngles := Cos(angles) // [seqLen, embedDim/2]
	sinAngles := Sin(angles) // [seqLen, embedDim/2]

	return applyWithCosSin(x, cosAngles, sinAngles, seqAxis, interleaved)
}

// applyRoPEWithCustomDim applies RoPE to x[..., dimStart:dimEnd] (even length).
// Unchanged dimensions outside [dimStart:dimEnd] are preserved.
//
// Parameters:
//   - x: Input tensor shaped [..., seqLen, ..., embed_dim], where seqAxis identifies the sequence axis.
//   - positionIndices: Position indices shaped [..., seq_len]
//   - baseFreq: Base frequency for computing rotation angles
//   - dimStart: Start index of the dimension range (inclusive)
//   - dimEnd: End index of the dimension range (exclusive)
//   - seqAxis: The axis in x that represents the sequence dimension.
//   - interleaved: If true, rotation pairs are at even/odd indices; if false, split first-half/second-half
//   - frequencyDivisor: Optional divisor size used for the base frequency calculations
//
// Returns:
//   - Tensor with rotary embeddings applied to the specified range, same shape as x
	func applyRoPEWithCustomDim(x *Node, positionIndices *Node, baseFreq float64, dimStart, dimEnd, seqAxis int, interleaved bool, frequencyDivisor int) *Node {
	rank := x.Shape().Rank()
	// Extract the part to apply RoPE (slice the last axis)
	part := Slice(x, AxisRange().Spacer(), AxisRange(dimStart, dimEnd))

	// Apply RoPE
	rotatedPart := applyRoPE(part, positionIndices, baseFreq, seqAxis, interleaved, frequencyDivisor)

	// Concatenate with unchanged parts
	if dimStart == 0 && dimEnd == x.Shape().Dimensions[rank-1] {
		// RoPE applied to entire embedding
		return rotatedPart
	}

	parts := make([]*Node, 0, 3)
	if dimStart > 0 {
		parts = append(parts, Slice(x, AxisRange().Spacer(), AxisRange(0, dimStart)))
	}
	parts = append(parts, rotatedPart)
	if dimEnd < x.Shape().Dimensions[rank-1] {
		parts = append(parts, Slice(x, AxisRange().Spacer(), AxisRange(dimEnd, x.Shape().Dimensions[rank-1])))
	}

	return Concatenate(parts, -1)
}
