// ref.cjs runs human's CenterNet (the TF.js graph model centernet.json of
// @vladmandic/human@3.3.6, TF.js 4.22, wasm backend) on decoded photos, as the reference the
// Go port is checked and timed against (lib/imageenc TestCenterNetNode, BenchmarkCenterNet).
//
// Usage: node ref.cjs NODE_MODULES_DIR MODEL_JSON IN_DIR OUT_FILE
//   NODE_MODULES_DIR holds @tensorflow/tfjs@4.22.0 and @tensorflow/tfjs-backend-wasm@4.22.0
//   (`make nsfwjs-node` installs them in models/nsfwjs-node/node_modules).
//   MODEL_JSON is centernet.json, with centernet.bin beside it (lib/assets unpacks both).
//   IN_DIR holds 0.rgb, 1.rgb, ...: the line "W H\n" then H·W·3 bytes of RGB (HWC).
//   OUT_FILE gets, per image in order, 80 + 480 + 600 float32 little-endian: the maximum of
//   each class heatmap of tower_0/keypoints, the global average of the backbone's last
//   feature map tower_0/extern1/hard_swish/mul_1, and tower_0/detections [100, 6]. The
//   input is prepared as human's centernet.predict does: the pixels as float32 0..255,
//   tf.image.resizeBilinear to 512×512 (no align corners, no half-pixel centres).
//   On stderr the last line is "centernet-node-ms-per-image <ms>": the mean time of one
//   image (resize and model), after one warm-up image.
const fs = require("fs");
const path = require("path");

async function main() {
  const [modulesDir, modelJSON, inDir, outFile] = process.argv.slice(2);
  if (!outFile) {
    console.error("usage: node ref.cjs NODE_MODULES_DIR MODEL_JSON IN_DIR OUT_FILE");
    process.exit(2);
  }
  const req = (name) => require(path.join(path.resolve(modulesDir), name));
  const tf = req("@tensorflow/tfjs");
  req("@tensorflow/tfjs-backend-wasm");
  if (!(await tf.setBackend("wasm"))) {
    throw new Error("the TF.js wasm backend did not initialise");
  }
  await tf.ready();
  const spec = JSON.parse(fs.readFileSync(modelJSON));
  const weightSpecs = [];
  const shards = [];
  for (const group of spec.weightsManifest) {
    weightSpecs.push(...group.weights);
    for (const p of group.paths) shards.push(fs.readFileSync(path.join(path.dirname(modelJSON), p)));
  }
  const data = Buffer.concat(shards);
  const model = await tf.loadGraphModel({
    load: async () => ({
      modelTopology: spec.modelTopology,
      format: spec.format,
      generatedBy: spec.generatedBy,
      convertedBy: spec.convertedBy,
      signature: spec.signature,
      weightSpecs,
      weightData: data.buffer.slice(data.byteOffset, data.byteOffset + data.length),
    }),
  });
  const size = spec.signature.inputs["tower_0/images"].tensorShape.dim[1].size | 0;
  const outputs = ["tower_0/keypoints", "tower_0/extern1/hard_swish/mul_1", "tower_0/detections"];
  const files = fs.readdirSync(inDir).filter((f) => f.endsWith(".rgb"))
    .sort((a, b) => parseInt(a) - parseInt(b));
  const out = [];
  let ms = 0;
  for (let i = 0; i < files.length; i++) {
    const buf = fs.readFileSync(path.join(inDir, files[i]));
    const nl = buf.indexOf(10);
    const [w, h] = buf.subarray(0, nl).toString().trim().split(/\s+/).map(Number);
    const pix = buf.subarray(nl + 1);
    if (pix.length !== w * h * 3) throw new Error(`${files[i]}: ${pix.length} bytes for ${w}x${h}x3`);
    const img = tf.tensor4d(Float32Array.from(pix), [1, h, w, 3], "float32");
    const t0 = performance.now();
    const res = tf.tidy(() => {
      const [keypoints, features, detections] = model.execute(tf.image.resizeBilinear(img, [size, size]), outputs);
      return [tf.max(keypoints, [1, 2]), tf.mean(features, [1, 2]), detections];
    });
    const vals = await Promise.all(res.map((t) => t.data()));
    if (i > 0 || files.length === 1) ms += performance.now() - t0;
    for (const v of vals) out.push(Buffer.from(v.buffer, v.byteOffset, v.byteLength));
    tf.dispose([img, ...res]);
  }
  fs.writeFileSync(outFile, Buffer.concat(out));
  const timed = Math.max(1, files.length - 1);
  console.error(`centernet ${tf.getBackend()} backend: ${files.length} images`);
  console.error(`centernet-node-ms-per-image ${(ms / timed).toFixed(2)}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
