// Result tables. rows: [{contender, metric, value, unit}]; ratio = value / baseline's value
// for the same metric (so for ops/s >1 is faster, for ms or bytes <1 is better).

import fs from 'node:fs';
import path from 'node:path';

export function fmtNum(v) {
  if (typeof v !== 'number' || !Number.isFinite(v)) return String(v ?? '');
  const a = Math.abs(v);
  if (a >= 100) return Math.round(v).toLocaleString('en-US');
  if (a >= 1) return v.toFixed(2);
  return v.toPrecision(3);
}

function cells(rows, baseline) {
  const base = new Map();
  for (const r of rows) if (r.contender === baseline) base.set(r.metric, r.value);
  const head = ['metric', 'contender', 'value', 'unit', ...(baseline ? [`vs ${baseline}`] : [])];
  const body = rows.map((r) => {
    const b = base.get(r.metric);
    const ratio = baseline && typeof b === 'number' && b !== 0 && typeof r.value === 'number' ? `${(r.value / b).toFixed(2)}x` : '';
    return [r.metric, r.contender, fmtNum(r.value), r.unit ?? '', ...(baseline ? [ratio] : [])];
  });
  return { head, body };
}

/** -> {text, markdown}. opts: {baseline?: contender name, title?: string} */
export function formatTable(rows, { baseline, title } = {}) {
  const { head, body } = cells(rows, baseline);
  const all = [head, ...body];
  const w = head.map((_, i) => Math.max(...all.map((r) => r[i].length)));
  const right = (i) => i === 2 || i === 4; // numbers
  const line = (r) => r.map((c, i) => (right(i) ? c.padStart(w[i]) : c.padEnd(w[i]))).join('  ').trimEnd();
  const text = [title, line(head), w.map((n) => '-'.repeat(n)).join('  '), ...body.map(line)].filter((x) => x != null).join('\n');
  const md = [
    ...(title ? [`### ${title}`, ''] : []),
    `| ${head.join(' | ')} |`,
    `|${head.map((_, i) => (right(i) ? ' ---: ' : ' --- ')).join('|')}|`,
    ...body.map((r) => `| ${r.join(' | ')} |`),
  ].join('\n');
  return { text, markdown: md };
}

/** Print the text table to stdout; if opts.file is set, also write (opts.append: append) markdown. */
export function printTable(rows, opts = {}) {
  const t = formatTable(rows, opts);
  console.log(t.text + '\n');
  if (opts.file) writeTable(opts.file, rows, opts);
  return t;
}

export function writeTable(file, rows, opts = {}) {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const md = formatTable(rows, opts).markdown + '\n\n';
  if (opts.append) fs.appendFileSync(file, md);
  else fs.writeFileSync(file, md);
}
