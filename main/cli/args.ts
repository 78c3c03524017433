/** Minimal argv parsing: positionals, --flag, --key value, --key=value, repeatable keys. */
export interface ParsedArgs {
  positionals: string[];
  options: Map<string, string[]>;
  flags: Set<string>;
}

export function parseArgs(argv: string[], valued: readonly string[]): ParsedArgs {
  const out: ParsedArgs = { positionals: [], options: new Map(), flags: new Set() };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') {
      out.positionals.push(...argv.slice(i + 1));
      break;
    }
    if (a.startsWith('--') || (a.length === 2 && a[0] === '-' && a !== '-')) {
      const eq = a.indexOf('=');
      const name = (eq > 0 ? a.slice(0, eq) : a).replace(/^--?/, '');
      if (valued.includes(name)) {
        const value = eq > 0 ? a.slice(eq + 1) : argv[++i];
        if (value === undefined) throw new UsageError(`option --${name} needs a value`);
        out.options.set(name, [...(out.options.get(name) ?? []), value]);
      } else {
        if (eq > 0) throw new UsageError(`option --${name} takes no value`);
        out.flags.add(name);
      }
    } else out.positionals.push(a);
  }
  return out;
}

export class UsageError extends Error {
  override name = 'UsageError';
}
