// An SVG bar chart of the throughput metrics: each contender's speed relative to git (log scale).
import fs from 'node:fs';

const COLORS = { git: '#6b7280', 'midx-odb': '#2563eb', isomorphic: '#f59e0b' };
const color = (c) => (c.startsWith('git') ? COLORS.git : c.startsWith('midx-odb') ? COLORS['midx-odb'] : COLORS.isomorphic);

export function writeChart(file, rows) {
  // ratios to git for "higher is better" metrics (obj/s, ids/s); time metrics are inverted
  const groups = [];
  const keys = [...new Set(rows.map((r) => `${r.corpus}\u0000${r.metric}`))];
  for (const k of keys) {
    const [corpus, metric] = k.split('\u0000');
    const list = rows.filter((r) => r.corpus === corpus && r.metric === metric);
    const base = list.find((r) => r.contender.startsWith('git'));
    if (!base || !Number.isFinite(base.value) || metric.startsWith('peak')) continue;
    const lowerBetter = base.unit === 'ms';
    groups.push({
      title: `${corpus.split(' (')[0]}: ${metric}`,
      bars: list.map((r) => ({ label: r.contender, ratio: lowerBetter ? base.value / r.value : r.value / base.value })),
    });
  }
  const rowH = 18;
  const width = 860;
  const left = 300;
  const scale = (x) => left + ((Math.log10(Math.min(Math.max(x, 0.001), 100)) + 3) / 5) * (width - left - 60); // 0.001x .. 100x
  let y = 40;
  const parts = [];
  for (const g of groups) {
    parts.push(`<text x="10" y="${y}" font-weight="bold">${esc(g.title)}</text>`);
    y += 8;
    for (const b of g.bars) {
      y += rowH;
      parts.push(`<text x="20" y="${y - 4}">${esc(b.label)}</text>`);
      parts.push(`<rect x="${left}" y="${y - rowH + 4}" width="${Math.max(1, scale(b.ratio) - left)}" height="${rowH - 6}" fill="${color(b.label)}"/>`);
      parts.push(`<text x="${scale(b.ratio) + 4}" y="${y - 4}">${b.ratio >= 10 ? b.ratio.toFixed(0) : b.ratio >= 0.01 ? b.ratio.toFixed(2) : b.ratio.toPrecision(2)}x</text>`);
    }
    y += 16;
  }
  const axis = [0.001, 0.01, 0.1, 1, 10, 100].map((v) => `<line x1="${scale(v)}" y1="24" x2="${scale(v)}" y2="${y}" stroke="#ddd"/><text x="${scale(v) - 8}" y="20" fill="#666">${v}x</text>`).join('');
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${y + 10}" font-family="sans-serif" font-size="12"><rect width="100%" height="100%" fill="white"/>${axis}${parts.join('')}<text x="10" y="${y + 4}" fill="#666" font-size="10">speed relative to git (log scale; for times, git's time / contender's time)</text></svg>`;
  fs.writeFileSync(file, svg);
}

function esc(s) {
  return String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;');
}
