/**
 * git 2.55's own bitmap test scripts, with every `git multi-pack-index`
 * command they run routed to our CLI (dist/cli/main.js, built by `npm test`'s
 * tsc) and everything else left to git 2.55, which then reads what we wrote:
 * t5326 (multi-pack bitmaps), t5327 (bitmaps with the .rev file and
 * GIT_TEST_MIDX_WRITE_REV), t5332 (bitmaps over incremental chains), t5334
 * (incremental MIDX). git passes them all.
 *
 * EXPECTED_FAILURES lists the cases known to fail through our CLI (none
 * today): the test fails on any other failing case, and also when a listed
 * case passes, so that the list stays true.
 */

import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const RUNNER = path.join(ROOT, '..', 'shared', 'git-2.55', 'run-git-tests.sh');

/** `<script>: <test number>` of the cases expected to fail. */
const EXPECTED_FAILURES = new Set<string>([]);

const SUITES: Array<[string, number]> = [
  ['t5326', 357],
  ['t5327', 314],
  ['t5332', 14],
  ['t5334', 22],
];

/** Runs one script; the runner prints `<script>: N ok, M not ok` and a `not ok <n> - <title>` line per failing case. */
function run(script: string): { ok: number; failed: Array<{ n: number; title: string }>; output: string } {
  const r = spawnSync('bash', [RUNNER, '--route', path.join(ROOT, 'dist', 'cli', 'main.js'), script], { cwd: ROOT, encoding: 'utf8', maxBuffer: 1 << 28 });
  const output = `${r.stdout}\n${r.stderr}`;
  let ok = -1;
  const failed: Array<{ n: number; title: string }> = [];
  for (const line of output.split('\n')) {
    const summary = new RegExp(`^${script}: (\\d+) ok, (\\d+) not ok`).exec(line);
    if (summary) ok = Number(summary[1]);
    const m = /^\s*not ok (\d+) - (.*)$/.exec(line);
    if (m) failed.push({ n: Number(m[1]), title: m[2] });
  }
  return { ok, failed, output };
}

describe("git 2.55's bitmap suites through our CLI", () => {
  for (const [script, count] of SUITES) {
    it(`${script}: all ${count} cases`, () => {
      const { ok, failed, output } = run(script);
      expect(ok + failed.length, `${script} ran every case\n${output.slice(-2000)}`).toBe(count);
      const unexpected = failed.filter((f) => !EXPECTED_FAILURES.has(`${script}: ${f.n}`));
      expect(unexpected.map((f) => `${script} ${f.n} - ${f.title}`)).toEqual([]);
      const failing = new Set(failed.map((f) => `${script}: ${f.n}`));
      const fixed = [...EXPECTED_FAILURES].filter((k) => k.startsWith(`${script}: `) && !failing.has(k));
      expect(fixed.map((k) => `${k} passes: remove it from EXPECTED_FAILURES`)).toEqual([]);
    }, 1_800_000);
  }
});
