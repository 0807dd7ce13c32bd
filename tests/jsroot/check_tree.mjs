// check_tree.mjs - reads a ROOT file with JSROOT (an independent implementation of ROOT
// I/O, from the npm registry) and compares every entry of every listed branch with the
// values the writer reports having written.
//
//   JSROOT_DIR=<dir with node_modules/jsroot> node check_tree.mjs FILE.root EXPECTED.json
//
// EXPECTED.json as written by tests/jsroot/writegen.c: {tree, aux, entries, float32:
// [names of float branches], branches: {name: [entry values]}, aux_branches: {...}}. Prints "OK <tree> <entries> entries
// <branches> branches" per tree, or the first mismatches, and exits non-zero on any
// difference. One file per process (a JSROOT failure can abort the process).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const [file, expPath] = process.argv.slice(2);
const dir = process.env.JSROOT_DIR;
if (!file || !expPath || !dir) {
    console.error('usage: JSROOT_DIR=... node check_tree.mjs FILE.root EXPECTED.json');
    process.exit(2);
}
const mod = p => import(pathToFileURL(join(dir, 'node_modules/jsroot/modules', p)).href);
const { openFile, TBuffer } = await mod('io.mjs');

// JSROOT 7.11.2 bug: TBuffer.ntoi8 decodes a negative int64 whose low word is below
// 2^31 off by 2^32 (it uses `~low`, a signed 32-bit result). Verified by hand on the
// bytes we write (e.g. fffffe88 6adc7000 = -1613114871808, JSROOT gives -1608819904512).
// Replace it with a correct decoder so int64 branches are still compared exactly.
TBuffer.prototype.ntoi8 = function () {
    const high = this.arr.getInt32(this.o), low = this.arr.getUint32(this.o + 4);
    this.o += 8;
    const v = high * 0x100000000 + low;
    return Number.isSafeInteger(v) ? v : BigInt.asIntN(64, (BigInt(high) << 32n) | BigInt(low));
};
const { TSelector, treeProcess } = await mod('tree.mjs');

const exp = JSON.parse(readFileSync(expPath, 'utf8'));

function flat(v) {
    if (v === null || v === undefined) return [];
    if (typeof v === 'string') return Array.from(v, ch => ch.charCodeAt(0));
    if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return [Number(v)];
    const out = [];
    for (const x of v) out.push(...flat(x));
    return out;
}

async function check(f, treePath, branches, nentries, floats, tolerance = {}) {
    const tree = await f.readObject(treePath);
    if (!tree) throw Error(`tree ${treePath} not found`);
    if (Number(tree.fEntries) !== nentries)
        throw Error(`${treePath}: fEntries ${tree.fEntries}, expected ${nentries}`);
    const names = Object.keys(branches);
    const sel = new TSelector();
    for (const n of names) sel.addBranch(n);
    let seen = 0, bad = 0;
    const msgs = [];
    sel.Process = function (entry) {
        seen++;
        for (const n of names) {
            const want = branches[n][entry];
            const got = flat(this.tgtobj[n]);
            const w = Array.isArray(want) ? want : [want];
            let ok = got.length === w.length;
            for (let i = 0; ok && i < w.length; i++) {
                const g = got[i], x = w[i];
                // the writer printed %.17g of each stored value: exact for every type;
                // float32 branches come back as the float widened to double
                const want = floats.has(n) ? Math.fround(x) : x;
                // an absolute tolerance only where EXPECTED.json gives one (packed floats
                // whose step is not a power of two: ROOT's raw / factor + xmin and
                // raw * step + xmin differ in the last bits, far below one step)
                ok = want === g || (tolerance[n] !== undefined && Math.abs(want - g) <= tolerance[n]);
            }
            if (!ok) {
                bad++;
                if (msgs.length < 10) msgs.push(`${treePath} entry ${entry} branch ${n}: got [${got}] want [${w}]`);
            }
        }
    };
    await treeProcess(tree, sel);
    if (seen !== nentries) msgs.push(`${treePath}: processed ${seen} entries, expected ${nentries}`);
    if (bad || seen !== nentries) {
        for (const m of msgs) console.log(m);
        return false;
    }
    console.log(`OK ${treePath} ${seen} entries ${names.length} branches`);
    return true;
}

try {
    const f = await openFile(file);
    const a = await check(f, exp.tree, exp.branches, exp.entries, new Set(exp.float32), exp.tolerance || {});
    const b = await check(f, exp.aux, exp.aux_branches, exp.entries, new Set());
    process.exit(a && b ? 0 : 1);
} catch (err) {
    console.log(`ERROR ${file}: ${err?.stack || err}`);
    process.exit(1);
}
