/** A small reader for git's config file: enough for the keys this library honours. */

export type GitConfig = Map<string, string[]>;

/**
 * Parses git config text into `section[.subsection].key` → values. Section and
 * key names are case-insensitive (lowercased here); subsections keep their case.
 * A key with no `=` is boolean true.
 */
export function parseConfig(text: string): GitConfig {
  const out: GitConfig = new Map();
  let section = '';
  for (const raw of text.split(/\r?\n/)) {
    let line = raw.trim();
    if (!line || line.startsWith('#') || line.startsWith(';')) continue;
    if (line.startsWith('[')) {
      const m = /^\[\s*([A-Za-z0-9.-]+)(?:\s+"((?:[^"\\]|\\.)*)")?\s*\]\s*(.*)$/.exec(line);
      if (!m) continue;
      const name = m[1].toLowerCase();
      section = m[2] !== undefined ? `${name}.${m[2].replace(/\\(.)/g, '$1')}` : name;
      line = m[3].trim();
      if (!line) continue;
    }
    const kv = /^([A-Za-z][A-Za-z0-9-]*)\s*(?:=\s*(.*))?$/.exec(line);
    if (!kv || !section) continue;
    const key = `${section}.${kv[1].toLowerCase()}`;
    let value = kv[2] === undefined ? 'true' : kv[2];
    // strip a trailing comment outside quotes, then the quotes themselves
    let v = '';
    let quoted = false;
    for (let i = 0; i < value.length; i++) {
      const c = value[i];
      if (c === '"') quoted = !quoted;
      else if (c === '\\' && i + 1 < value.length) {
        const n = value[++i];
        v += n === 'n' ? '\n' : n === 't' ? '\t' : n;
      } else if (!quoted && (c === '#' || c === ';')) break;
      else v += c;
    }
    value = v.trim();
    const list = out.get(key);
    if (list) list.push(value);
    else out.set(key, [value]);
  }
  return out;
}

export function configGet(config: GitConfig, key: string): string | undefined {
  const list = config.get(key.toLowerCase());
  return list ? list[list.length - 1] : undefined;
}

export function configBool(config: GitConfig, key: string, fallback: boolean): boolean {
  const v = configGet(config, key);
  if (v === undefined) return fallback;
  const s = v.toLowerCase();
  if (s === 'true' || s === 'yes' || s === 'on' || s === '1' || s === '') return true;
  if (s === 'false' || s === 'no' || s === 'off' || s === '0') return false;
  return fallback;
}
