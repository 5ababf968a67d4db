/**
 * A sliver of git's trace2 event target (GIT_TRACE2_EVENT): the regions git's
 * tests look for in what a command did. Only an absolute path is honoured
 * (git's other targets, fds and sockets, are ignored); events are appended,
 * one JSON object a line, as git appends them.
 */

import fs from 'node:fs';
import path from 'node:path';

function target(): string | null {
  const t = process.env.GIT_TRACE2_EVENT;
  return t && path.isAbsolute(t) ? t : null;
}

/** Appends a region_enter/region_leave pair for `category`/`label`. */
export function traceRegion(category: string, label: string): void {
  const file = target();
  if (!file) return;
  const sid = `${Date.now()}-${process.pid}`;
  const lines = ['region_enter', 'region_leave'].map((event) =>
    JSON.stringify({ event, sid, thread: 'main', time: new Date().toISOString(), file: 'midx-odb', line: 0, repo: 1, nesting: 1, category, label }),
  );
  try {
    fs.appendFileSync(file, `${lines.join('\n')}\n`);
  } catch {
    // tracing never fails a command
  }
}
