/**
 * `midx-odb maintenance`: the dry run prints the plan odb.maintain() makes,
 * the real run carries it out (git 2.55 verify and fsck clean), a held chain
 * lock ends in git's fatal lock message with status 128, and bad option values
 * are refused as git refuses them.
 */

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openOdb } from '../src/index.js';
import { git255 } from './git255.js';
import { emptyRepo, fetchPack, installPack, makeSource, packDir, setRef } from './maintain-helpers.js';

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const cleanup: string[] = [];
afterAll(() => {
  for (const d of cleanup) fs.rmSync(path.dirname(d), { recursive: true, force: true });
});

function cli(gitdir: string, args: string[]) {
  const r = spawnSync(process.execPath, [path.join(ROOT, 'dist', 'cli', 'main.js'), '--git-dir', gitdir, ...args], { encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('midx-odb maintenance', () => {
  it('--dry-run --json, then the run; lock; bad values', async () => {
    const src = makeSource(60);
    cleanup.push(src.gitdir);
    const gitdir = emptyRepo('repo.git');
    cleanup.push(gitdir);
    for (let i = 0; i < 10; i++) {
      installPack(gitdir, fetchPack(src, i * 3, i * 3 + 3));
      setRef(gitdir, src.commits[i * 3 + 2]);
      if (i % 4 === 0) {
        const odb = await openOdb({ fs, gitdir });
        await odb.writeMidx({ incremental: true });
        await odb.close();
      }
    }
    const odb = await openOdb({ fs, gitdir });
    const want = await odb.maintain({ dryRun: true });
    await odb.close();
    const dry = cli(gitdir, ['maintenance', '--dry-run', '--json']);
    expect(dry.status, dry.stderr).toBe(0);
    expect(JSON.parse(dry.stdout)).toEqual(JSON.parse(JSON.stringify(want)));

    const lock = path.join(packDir(gitdir), 'multi-pack-index.d', 'multi-pack-index-chain.lock');
    fs.writeFileSync(lock, '');
    const locked = cli(gitdir, ['maintenance']);
    expect(locked.status).toBe(128);
    expect(locked.stderr).toContain(`fatal: Unable to create '${lock}': File exists.`);
    fs.rmSync(lock);

    const run = cli(gitdir, ['maintenance', '--midx-new-layer-threshold=2']);
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^roll up \d+ pack\(s\) into one of \d+ objects/);
    expect(run.stdout).toMatch(/deleted \d+ pack\(s\)/);
    git255(['--git-dir', gitdir, 'multi-pack-index', 'verify', '--no-progress']);
    git255(['--git-dir', gitdir, 'fsck', '--no-progress']);

    const bad = cli(gitdir, ['maintenance', '--midx-split-factor=1']);
    expect(bad.status).toBe(255);
    expect(bad.stderr).toContain('invalid value for --midx-split-factor: 1');
    const bad2 = cli(gitdir, ['maintenance', '--midx-new-layer-threshold=0']);
    expect(bad2.stderr).toContain('invalid value for --midx-new-layer-threshold: 0');
  }, 60_000);
});
