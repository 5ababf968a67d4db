// One hostile case, run in its own process by test/hostile.test.ts (so that a
// hang, a crash or a runaway allocation is measured, not suffered). Argument:
// JSON { dist, gitdir, objects: "oid type size" lines, write }. Prints one JSON
// line: for every operation, 'ok', 'typed:<ErrorName>', 'untyped:<name: message>'
// or 'wrong:<oid>'; the warnings; the peak resident set.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const args = JSON.parse(process.argv[2]);
const lib = await import(pathToFileURL(path.join(args.dist, 'index.js')).href);
const TYPED = ['NotFoundError', 'CorruptError', 'LockError', 'UnsupportedError', 'NotAFileError', 'MidxLoadError'];
const typed = (err) => err && (TYPED.includes(err.name) || err instanceof lib.NotFoundError || err instanceof lib.CorruptError || err instanceof lib.LockError || err instanceof lib.UnsupportedError);
const classify = (err) => (typed(err) ? `typed:${err.name}` : `untyped:${err?.name}: ${String(err?.message).slice(0, 200)}`);

const out = { ops: {}, warnings: [] };
const objects = args.objects.split('\n').filter(Boolean).map((l) => l.split(' '));
let odb = null;
try {
  odb = await lib.openOdb({ fs, gitdir: args.gitdir, onWarning: (w) => out.warnings.length < 50 && out.warnings.push(`${w.file}: ${w.reason}`.slice(0, 300)) });
  out.ops.open = 'ok';
} catch (err) {
  out.ops.open = classify(err);
}
if (odb) {
  // every object: right bytes, or a typed error (counted by kind)
  const reads = {};
  for (const [oid, type, size] of objects) {
    let r;
    try {
      const o = await odb.read(oid);
      const h = crypto.createHash('sha1').update(`${o.type} ${o.data.length}\0`).update(o.data).digest('hex');
      r = h === oid && o.type === type && o.data.length === Number(size) ? 'ok' : `wrong:${oid}`;
    } catch (err) {
      r = classify(err);
    }
    reads[r] = (reads[r] ?? 0) + 1;
  }
  out.ops.read = reads;
  const step = async (name, fn) => {
    try {
      await fn();
      out.ops[name] = 'ok';
    } catch (err) {
      out.ops[name] = classify(err);
    }
  };
  await step('exists', async () => {
    for (const [oid] of objects.slice(0, 20)) await odb.exists(oid);
  });
  await step('listOids', async () => {
    let n = 0;
    for await (const _ of odb.listOids()) n++;
    out.listed = n;
  });
  await step('expandOid', async () => {
    try {
      await odb.expandOid(objects[0][0].slice(0, 8));
    } catch (err) {
      if (err?.name !== 'AmbiguousError') throw err;
    }
  });
  await step('stats', () => odb.stats());
  await step('verify', () => odb.verifyMidx());
  if (args.write) await step('write', () => odb.writeMidx({ incremental: true }));
  await step('close', () => odb.close());
}
out.maxRssKiB = process.resourceUsage().maxRSS;
process.stdout.write(JSON.stringify(out) + '\n');
process.exit(0);
