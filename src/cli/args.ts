// Command-line options: one table describes every option (name, type, default, help), so the
// parser, `--help` and validation can't drift apart. Invalid values fail with the option's name,
// the value given and what is accepted.

export type OptionType = 'int' | 'float' | 'bool' | 'string';

export interface OptionSpec {
  type: OptionType;
  default: number | boolean | string;
  help: string;
  /** Allowed values for strings. */
  choices?: readonly string[];
  min?: number;
  max?: number;
}

export type Parsed<S extends Record<string, OptionSpec>> = { [K in keyof S]: S[K]['default'] };

/** Option name → flag: bnSplits → bn-splits; one-letter names keep their case (--K, --T, --m, as in the paper). */
export const kebab = (s: string) => (s.length === 1 ? s : s.replace(/([a-z0-9])([A-Z])/g, '$1-$2').toLowerCase());

export function parseArgs<S extends Record<string, OptionSpec>>(argv: string[], spec: S, command: string): Parsed<S> {
  const out: Record<string, number | boolean | string> = {};
  for (const [k, s] of Object.entries(spec)) out[k] = s.default;
  const byFlag = new Map(Object.keys(spec).map((k) => [kebab(k), k]));
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('--')) throw new Error(`${command}: unexpected argument '${arg}' (options start with --; see --help)`);
    let [flag, value] = arg.slice(2).split('=', 2) as [string, string | undefined];
    let negate = false;
    if (!byFlag.has(flag) && flag.startsWith('no-') && byFlag.has(flag.slice(3))) {
      flag = flag.slice(3);
      negate = true;
    }
    const key = byFlag.get(flag);
    if (!key) throw new Error(`${command}: unknown option --${flag}. Known: ${[...byFlag.keys()].map((f) => '--' + f).join(', ')}`);
    const s = spec[key];
    if (s.type === 'bool') {
      // One syntax for booleans: --x, --no-x, --x=false, --x false.
      if (negate && value !== undefined)
        throw new Error(`${command}: --no-${flag}=${value}: --no-${flag} takes no value (write --no-${flag}, or --${flag}=false)`);
      if (value === undefined && BOOL_WORDS.has(argv[i + 1] ?? '')) value = argv[++i];
      out[key] = negate ? false : value === undefined ? true : parseBool(command, flag, value);
      continue;
    }
    if (value === undefined) {
      value = argv[++i];
      if (value === undefined) throw new Error(`${command}: --${flag} needs a value (${s.help})`);
    }
    out[key] = parseValue(command, flag, s, value);
  }
  return out as Parsed<S>;
}

const BOOL_WORDS = new Set(['true', 'false', '1', '0', 'yes', 'no']);

function parseBool(command: string, flag: string, v: string): boolean {
  if (v === 'true' || v === '1' || v === 'yes') return true;
  if (v === 'false' || v === '0' || v === 'no') return false;
  throw new Error(`${command}: --${flag}=${v}: expected true or false (or --${flag} / --no-${flag})`);
}

function parseValue(command: string, flag: string, s: OptionSpec, v: string): number | string {
  if (s.type === 'string') {
    if (s.choices && !s.choices.includes(v)) throw new Error(`${command}: --${flag} ${v}: expected one of ${s.choices.join(', ')}`);
    return v;
  }
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || (s.type === 'int' && !Number.isInteger(n))) {
    throw new Error(`${command}: --${flag} ${v}: expected ${s.type === 'int' ? 'an integer' : 'a number'}`);
  }
  if (s.min !== undefined && n < s.min) throw new Error(`${command}: --${flag} ${v}: must be >= ${s.min}`);
  if (s.max !== undefined && n > s.max) throw new Error(`${command}: --${flag} ${v}: must be <= ${s.max}`);
  return n;
}

export function helpText(spec: Record<string, OptionSpec>): string {
  return Object.entries(spec)
    .map(([k, s]) => {
      // A help text that describes its own default says it once.
      const notes = [
        ...(s.help.includes('(default') ? [] : [`default: ${s.default}`]),
        ...(s.choices ? [`one of ${s.choices.join('|')}`] : []),
      ];
      return `  --${kebab(k).padEnd(18)} ${s.help}${notes.length ? ` (${notes.join('; ')})` : ''}`;
    })
    .join('\n');
}
