/** Reads a console line like `/adjust account:… amount:25 reason:"delivery miss"` into a command and its options. */
export function parseLine(line: string): { name: string; options: Record<string, string> } | null {
  const trimmed = line.trim();
  if (!trimmed) return null;
  const [head = '', ...rest] = tokens(trimmed);
  const options: Record<string, string> = {};
  for (const token of rest) {
    const colon = token.indexOf(':');
    if (colon <= 0) continue;
    options[token.slice(0, colon)] = token.slice(colon + 1);
  }
  return { name: head.replace(/^\//, ''), options };
}

/** Splits on spaces, keeping "quoted text" (after key:) together. */
function tokens(line: string): string[] {
  const out: string[] = [];
  let current = '';
  let quoted = false;
  for (const c of line) {
    if (c === '"') quoted = !quoted;
    else if (c === ' ' && !quoted) {
      if (current) out.push(current);
      current = '';
    } else current += c;
  }
  if (current) out.push(current);
  return out;
}
