// ref.cjs runs nsfwjs itself (TF.js, wasm backend) on decoded photos, as the reference the
// Go port of its InceptionV3 is checked against (lib/imageenc TestNSFWJSNode).
//
// Usage: node ref.cjs NODE_MODULES_DIR IN_DIR OUT_FILE
//   NODE_MODULES_DIR holds @tensorflow/tfjs@4.22.0, @tensorflow/tfjs-backend-wasm@4.22.0
//   and nsfwjs@4.4.0; the tests expect them in models/nsfwjs-node/node_modules, installed
//   from the project root (after assets.NSFWJS.Fetch() put the verified tarball in
//   models/npm) with:
//     mkdir -p models/nsfwjs-node && cd models/nsfwjs-node &&
//     echo '{"private": true}' > package.json &&
//     npm install --no-audit --no-fund --ignore-scripts @tensorflow/tfjs@4.22.0 \
//       @tensorflow/tfjs-backend-wasm@4.22.0 ../npm/nsfwjs-4.4.0.tgz
//   IN_DIR holds 0.rgb, 1.rgb, ...: the line "W H\n" then H·W·3 bytes of RGB (HWC).
//   OUT_FILE gets, per image in order, 768 + 2048 + 5 float32 little-endian: the global
//   average of mixed5, of mixed10, and the 5 class probabilities, each from
//   nsfwjs.infer(image, endpoint) (nsfwjs' own preprocessing: / 255, then
//   resizeBilinear(299, 299, alignCorners=true)).
const fs = require("fs");
const path = require("path");

async function main() {
  const [modulesDir, inDir, outFile] = process.argv.slice(2);
  if (!outFile) {
    console.error("usage: node ref.cjs NODE_MODULES_DIR IN_DIR OUT_FILE");
    process.exit(2);
  }
  const req = (name) => require(path.join(path.resolve(modulesDir), name));
  const tf = req("@tensorflow/tfjs");
  req("@tensorflow/tfjs-backend-wasm");
  if (!(await tf.setBackend("wasm"))) {
    throw new Error("the TF.js wasm backend did not initialise");
  }
  await tf.ready();
  const nsfwjs = req("nsfwjs");
  const model = await nsfwjs.load("InceptionV3", { size: 299, type: "layers" });
  const files = fs.readdirSync(inDir).filter((f) => f.endsWith(".rgb"))
    .sort((a, b) => parseInt(a) - parseInt(b));
  const out = [];
  const t0 = Date.now();
  for (const f of files) {
    const buf = fs.readFileSync(path.join(inDir, f));
    const nl = buf.indexOf(10);
    const [w, h] = buf.subarray(0, nl).toString().trim().split(/\s+/).map(Number);
    const pix = buf.subarray(nl + 1);
    if (pix.length !== w * h * 3) throw new Error(`${f}: ${pix.length} bytes for ${w}x${h}x3`);
    const img = tf.tensor3d(new Int32Array(pix), [h, w, 3], "int32");
    for (const endpoint of ["mixed5", "mixed10", undefined]) {
      const y = tf.tidy(() => {
        const t = model.infer(img, endpoint);
        return endpoint ? tf.mean(t, [1, 2]) : t;
      });
      out.push(Buffer.from((await y.data()).buffer));
      y.dispose();
    }
    img.dispose();
  }
  fs.writeFileSync(outFile, Buffer.concat(out));
  console.error(`nsfwjs ${tf.getBackend()} backend: ${files.length} images in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
