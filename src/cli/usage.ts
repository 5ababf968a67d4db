/** Usage texts laid out as git's parse-options lays them out (usage_with_options). */

import { formatOptionList, type OptionSpec } from './args.js';

/**
 * `usage: <first>` then `   or: <next>` lines; a usage string's own line
 * breaks continue under the command name, indented by the width of "usage: ".
 * Then a blank line, the option list, and a blank line.
 */
export function usageText(usages: string[], options: OptionSpec[]): string {
  let out = '';
  usages.forEach((u, i) => {
    u.split('\n').forEach((line, j) => {
      if (j === 0) out += `${i === 0 ? 'usage: ' : '   or: '}${line}\n`;
      else out += `${' '.repeat('usage: '.length)}${line}\n`;
    });
  });
  const list = formatOptionList(options);
  if (list) out += `\n${list}`;
  return `${out}\n`;
}
