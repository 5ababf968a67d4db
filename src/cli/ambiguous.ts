/**
 * git's report of an ambiguous abbreviation (object-name.c), on stderr:
 *
 *   error: short object ID 4574 is ambiguous
 *   hint: The candidates are:
 *   hint:   4574fa0 tree
 *   hint:   4574683 blob
 *
 * Candidates sorted tags, commits, trees, blobs, then by id; each shown by its
 * shortest unique abbreviation (at least core.abbrev, git's automatic length
 * by default), commits with their author date and subject, tags with their
 * date and name.
 */

import { configGet } from '../config.js';
import { AmbiguousError } from '../errors.js';
import type { Odb } from '../index.js';

const TYPE_ORDER: Record<string, number> = { tag: 0, commit: 1, tree: 2, blob: 3 };

/** git's default abbreviation length for a repository of `count` objects (find_unique_abbrev_r). */
export function autoAbbrev(count: number): number {
  let bits = 0;
  while (count >> bits > 0 && bits < 52) bits++;
  // bits = msb(count) + 1; about 2^bits objects expect a collision at 2^(bits/2), 4 bits a hex digit
  const len = Math.ceil(bits / 2);
  return Math.max(7, len);
}

async function minimumAbbrev(odb: Odb): Promise<number> {
  const configured = configGet(odb.config, 'core.abbrev');
  if (configured !== undefined && /^\d+$/.test(configured)) return Math.min(Math.max(4, Number(configured)), odb.hash.hexLength);
  if (configured === 'no') return odb.hash.hexLength;
  const s = await odb.stats();
  return autoAbbrev(s.midxObjects + s.unindexedObjects);
}

async function uniqueAbbrev(odb: Odb, oid: string, min: number): Promise<string> {
  for (let len = min; len < oid.length; len++) {
    try {
      if ((await odb.expandOid(oid.slice(0, len))) === oid) return oid.slice(0, len);
    } catch (err) {
      if (!(err instanceof AmbiguousError)) break;
    }
  }
  return oid;
}

function shortDate(epoch: number, tz: string): string {
  const m = /^([+-])(\d\d)(\d\d)$/.exec(tz);
  const offset = m ? (m[1] === '-' ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3])) : 0;
  return new Date((epoch + offset * 60) * 1000).toISOString().slice(0, 10);
}

function headers(text: string): { head: string[]; body: string } {
  const end = text.indexOf('\n\n');
  return { head: (end >= 0 ? text.slice(0, end) : text).split('\n'), body: end >= 0 ? text.slice(end + 2) : '' };
}

/** git's %s: the first paragraph of the message, its lines joined by spaces. */
function subject(body: string): string {
  const lines: string[] = [];
  for (const line of body.replace(/^\s*\n/, '').split('\n')) {
    if (!line.trim()) break;
    lines.push(line.trimEnd());
  }
  return lines.join(' ');
}

async function describe(odb: Odb, oid: string, abbrev: string): Promise<string> {
  let obj;
  try {
    obj = await odb.read(oid);
  } catch {
    return `${abbrev} unknown type`;
  }
  const text = Buffer.from(obj.data.buffer, obj.data.byteOffset, obj.data.byteLength).toString('utf8');
  if (obj.type === 'commit') {
    const { head, body } = headers(text);
    const author = head.find((l) => l.startsWith('author '));
    const m = author ? /> (\d+) ([+-]\d{4})$/.exec(author) : null;
    const date = m ? shortDate(Number(m[1]), m[2]) : '1970-01-01';
    return `${abbrev} commit ${date} - ${subject(body)}`;
  }
  if (obj.type === 'tag') {
    const { head } = headers(text);
    const name = head.find((l) => l.startsWith('tag '));
    if (!name) return `${abbrev} tag`;
    const tagger = head.find((l) => l.startsWith('tagger '));
    const m = tagger ? /> (\d+) [+-]\d{4}$/.exec(tagger) : null;
    // git shows the tag's date in UTC here (show_date with tz 0)
    return `${abbrev} tag ${shortDate(m ? Number(m[1]) : 0, '+0000')} - ${name.slice(4)}`;
  }
  return `${abbrev} ${obj.type}`;
}

/** The stderr lines git prints for an ambiguous abbreviation. */
export async function ambiguityReport(odb: Odb, err: AmbiguousError): Promise<string[]> {
  const typed: Array<{ oid: string; order: number }> = [];
  for (const oid of err.candidates) {
    let order = 4;
    try {
      order = TYPE_ORDER[(await odb.readHeader(oid)).type] ?? 4;
    } catch {
      // unreadable: sorted last
    }
    typed.push({ oid, order });
  }
  typed.sort((a, b) => a.order - b.order || (a.oid < b.oid ? -1 : a.oid > b.oid ? 1 : 0));
  const min = await minimumAbbrev(odb);
  const lines = [`error: short object ID ${err.prefix.toLowerCase()} is ambiguous`, 'hint: The candidates are:'];
  for (const { oid } of typed) lines.push(`hint:   ${await describe(odb, oid, await uniqueAbbrev(odb, oid, min))}`);
  return lines;
}
