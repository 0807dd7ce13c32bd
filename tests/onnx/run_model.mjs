// run_model.mjs MODEL.onnx RAW.bin N WIDTH EXPECTED.txt TOLERANCE [MARGIN.onnx] - runs an mlhep ONNX
// export in ONNX Runtime (npm onnxruntime-node, CPU) on raw rows and compares its
// "output" with the scores mlhep printed for the same events (`mlhep-submit predict
// --local`: one line per row, the score or the class probabilities). Prints
// "OK ... max abs diff D" and exits 0 when every value is within TOLERANCE, else prints
// the worst rows and exits 1. For a boosted-trees classifier (outputs label and
// probabilities too) it also checks that "output" is the classifier's probability of
// class 1 and label is 1 exactly where it is above 0.5 (binary), or that "output" is its
// probabilities and label the most probable class (multiclass).
// MARGIN.onnx (gen_rows.py writes it for boosted trees: post_transform NONE) gives the
// sums of the leaf values; mlhep's probability is 1 / (1 + expf(-sum)) in float, so the
// same computed here from onnxruntime's sums must match mlhep's bit for bit, but for
// expf's last bit (glibc's expf and a rounded Math.exp may differ by one float ulp): at
// least 99% of the rows bit-identical, every row within one ulp. A different leaf or a
// different order of the sum shows at once.
import fs from "node:fs";
import ort from "onnxruntime-node";

const [model, rawPath, nText, wText, expPath, tolText, marginModel] = process.argv.slice(2);
const n = Number(nText), w = Number(wText), tol = Number(tolText);
const buf = fs.readFileSync(rawPath);
if (buf.length !== n * w * 4) {
  console.log(`FAIL ${rawPath}: ${buf.length} bytes, expected ${n * w * 4}`);
  process.exit(1);
}
const raw = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length));
const want = fs.readFileSync(expPath, "utf8").trim().split("\n").map((l) => l.trim().split(/\s+/).map(Number));
const session = await ort.InferenceSession.create(model, { intraOpNumThreads: 1, interOpNumThreads: 1 });
const res = await session.run({ input: new ort.Tensor("float32", raw, [n, w]) });
const out = res.output;
const k = out.dims[1];
let worst = 0, bad = [], nan = 0;
if (want.length !== n || out.dims[0] !== n) {
  console.log(`FAIL row counts: onnxruntime ${out.dims[0]}, mlhep ${want.length}, expected ${n}`);
  process.exit(1);
}
for (let r = 0; r < n; r++) {
  if (want[r].length !== k) {
    console.log(`FAIL row ${r}: mlhep gave ${want[r].length} values, onnxruntime ${k}`);
    process.exit(1);
  }
  for (let j = 0; j < k; j++) {
    const got = out.data[r * k + j];
    if (!Number.isFinite(got)) nan++;
    const d = Math.abs(got - want[r][j]);
    if (!(d <= tol)) bad.push(`row ${r}[${j}]: onnxruntime ${got} mlhep ${want[r][j]}`);
    if (d > worst) worst = d;
  }
}
let extra = "";
if (res.label && res.probabilities) {
  /* binary: output = probabilities[:, 1], label 1 where it is above 0.5; multiclass:
     output = probabilities, label = the most probable class */
  const pk = res.probabilities.dims[1];
  let mism = 0;
  for (let r = 0; r < n; r++) {
    if (k === 1 && pk === 2) {
      const p1 = res.probabilities.data[2 * r + 1];
      if (p1 !== out.data[r]) mism++;
      if ((res.label.data[r] === 1n) !== (p1 > 0.5)) mism++;
      continue;
    }
    let best = 0;
    for (let j = 0; j < pk; j++) {
      if (pk !== k || res.probabilities.data[r * pk + j] !== out.data[r * k + j]) mism++;
      if (res.probabilities.data[r * pk + j] > res.probabilities.data[r * pk + best]) best = j;
    }
    if (res.label.data[r] !== BigInt(best)) mism++;
  }
  if (mism) bad.push(`${mism} rows where label/probabilities disagree with output`);
  extra = ", label and probabilities consistent";
}
if (marginModel) {
  const ms = await ort.InferenceSession.create(marginModel, { intraOpNumThreads: 1, interOpNumThreads: 1 });
  const mr = await ms.run({ input: new ort.Tensor("float32", raw, [n, w]) });
  let same = 0, far = 0;
  for (let r = 0; r < n; r++) {
    const m = mr.probabilities.data[2 * r + 1];
    const p = Math.fround(1 / Math.fround(1 + Math.fround(Math.exp(-m))));
    const q = Math.fround(want[r][0]);
    if (p === q) same++;
    else if (Math.abs(p - q) > 2 ** -24) far++; /* more than one ulp of a number in [0.5, 1) */
  }
  if (same < 0.99 * n || far) bad.push(`leaf sums: ${same}/${n} rows bit-identical, ${far} rows off by more than one ulp`);
  extra += `, leaf sums exact (${same}/${n} probabilities bit-identical, the others one expf ulp)`;
}
const names = `inputs ${session.inputNames.join(",")} outputs ${session.outputNames.join(",")}`;
if (bad.length || nan) {
  console.log(`FAIL ${model}: ${bad.length} values off by more than ${tol} (max abs diff ${worst}), ${nan} not finite; ${names}`);
  for (const b of bad.slice(0, 5)) console.log("  " + b);
  process.exit(1);
}
console.log(`OK ${n} rows x ${w} raw values, ${k} output(s): max abs diff ${worst.toExponential(3)} (tolerance ${tol})${extra}; ${names}`);
