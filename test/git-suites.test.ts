/**
 * git 2.55's own MIDX test scripts (t5319, t5334, t5335, t7705, and the bitmap
 * suites t5326, t5327, t5332) with every
 * `git multi-pack-index ...` they run sent to our CLI (dist/cli/main.js),
 * while git 2.55 does everything else and reads what we wrote:
 * ../shared/git-2.55/run-git-tests.sh --route dist/cli/main.js.
 *
 * Every case must pass except those listed in EXPECTED_FAILURES (none today). The test also
 * fails when a listed case starts passing, so the list stays honest: remove
 * it from the list then. Skipped only when git 2.55 cannot be set up.
 */

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const KIT = path.join(ROOT, '..', 'shared', 'git-2.55');
const CLI = path.join(ROOT, 'dist', 'cli', 'main.js');

const SCRIPTS: Record<string, number> = { t5319: 98, t5334: 22, t5335: 14, t7705: 15, t5326: 357, t5327: 314, t5332: 14 };

/**
 * `<script> <number> - <title>` of cases allowed to fail. Empty: every case of the
 * seven scripts passes through our CLI (the bitmap cases since the .bitmap writer).
 * A case added here must say why, and the test fails once it passes again.
 */
const EXPECTED_FAILURES: string[] = [];

function kitAvailable(): boolean {
  if (!fs.existsSync(path.join(KIT, 'setup.sh'))) return false;
  return spawnSync('bash', [path.join(KIT, 'setup.sh')], { stdio: 'ignore' }).status === 0;
}

const available = kitAvailable();

describe("git 2.55's MIDX test scripts through our CLI", () => {
  it.skipIf(!available)(
    't5319 t5334 t5335 t7705 t5326 t5327 t5332: every case passes',
    () => {
      expect(fs.existsSync(CLI)).toBe(true);
      // the scripts' trash directories go to a directory of our own: the kit is shared,
      // and two runs in its t/ directory at once would trample each other
      const root = fs.mkdtempSync(path.join(os.tmpdir(), 'midx-odb-git-suites-'));
      let r;
      try {
        r = spawnSync('bash', [path.join(KIT, 'run-git-tests.sh'), '--route', CLI, ...Object.keys(SCRIPTS), '--', `--root=${root}`], {
          cwd: ROOT,
          encoding: 'utf8',
          maxBuffer: 1 << 26,
        });
      } finally {
        fs.rmSync(root, { recursive: true, force: true });
      }
      const out = r.stdout;
      const failing: string[] = [];
      const counts: Record<string, number> = {};
      let script = '';
      for (const line of out.split('\n')) {
        const head = /^(t\d{4}): (\d+) ok, (\d+) not ok$/.exec(line);
        if (head) {
          script = head[1];
          counts[script] = Number(head[2]) + Number(head[3]);
          continue;
        }
        const bad = /^ {2}not ok (\d+ - .*)$/.exec(line);
        if (bad) failing.push(`${script} ${bad[1]}`);
      }
      // every script ran every case (a script that dies early reports fewer)
      expect(counts, out + r.stderr).toEqual(SCRIPTS);
      const unexpected = failing.filter((f) => !EXPECTED_FAILURES.includes(f));
      const nowPassing = EXPECTED_FAILURES.filter((f) => !failing.includes(f));
      expect({ unexpected, nowPassing }, out).toEqual({ unexpected: [], nowPassing: [] });
    },
    1_200_000,
  );
});
