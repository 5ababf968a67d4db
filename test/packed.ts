/**
 * The package as npm installs it: `npm pack` of this checkout (the dist/ that
 * `tsc` built; `npm test` runs it first) unpacked into `<project>/node_modules/midx-odb`,
 * with the package's dependencies linked beside it as npm would install them.
 */

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Installs the packed package into `project` (created); returns the package's directory there. */
export function installPacked(project: string): string {
  if (!fs.existsSync(path.join(ROOT, 'dist/index.js'))) throw new Error('dist/ is missing: run `npx tsc -p tsconfig.json` first (npm test does)');
  fs.mkdirSync(project, { recursive: true });
  // --ignore-scripts: `prepare` would rebuild; the tests run on the dist/ just built
  const out = execFileSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', project, ROOT], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const tarball = path.join(project, JSON.parse(out)[0].filename);
  const dest = path.join(project, 'node_modules', 'midx-odb');
  fs.mkdirSync(dest, { recursive: true });
  execFileSync('tar', ['-xzf', tarball, '-C', dest, '--strip-components=1']);
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
  for (const dep of Object.keys(pkg.dependencies ?? {})) {
    fs.symlinkSync(path.join(ROOT, 'node_modules', dep), path.join(project, 'node_modules', dep), 'dir');
  }
  fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
  return dest;
}
