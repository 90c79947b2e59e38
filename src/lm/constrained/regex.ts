// A regular-expression subset for JSON Schema's `pattern`, run on code points by a DFA built
// lazily from a Thompson NFA (each DFA state is a set of NFA states, made on first visit).
// Supported: literals, `.`, classes `[a-z\d]` and `[^...]`, `\d \w \s` and their negations,
// groups `( )` `(?: )` `(?<name> )`, `|`, quantifiers `* + ? {n} {n,} {n,m}` (lazy forms
// match the same strings), `^` at the very start and `$` at the very end. Without `^` / `$`
// the pattern may match anywhere in the string, as JSON Schema says.

/** Thrown for a pattern outside the subset; `feature` names what is missing. */
export class PatternError extends Error {
  constructor(readonly pattern: string, readonly feature: string) {
    super(`pattern ${JSON.stringify(pattern)} uses ${feature}, which constrained decoding does not support (supported: literals, ., [classes], \\d \\w \\s, groups, |, * + ? {n,m}, ^ at the start and $ at the end)`);
  }
}

type Ranges = number[]; // sorted, disjoint [lo, hi] pairs of code points
const MAX_CP = 0x10ffff;
const MAX_NFA_STATES = 20000;

type Ast =
  | { t: 'set'; r: Ranges }
  | { t: 'cat'; xs: Ast[] }
  | { t: 'alt'; xs: Ast[] }
  | { t: 'rep'; x: Ast; min: number; max: number }; // max Infinity: unbounded

function normalize(r: Ranges): Ranges {
  const pairs: [number, number][] = [];
  for (let i = 0; i < r.length; i += 2) pairs.push([r[i], r[i + 1]]);
  pairs.sort((a, b) => a[0] - b[0]);
  const out: Ranges = [];
  for (const [lo, hi] of pairs) {
    if (out.length && lo <= out[out.length - 1] + 1) out[out.length - 1] = Math.max(out[out.length - 1], hi);
    else out.push(lo, hi);
  }
  return out;
}

function negate(r: Ranges): Ranges {
  const n = normalize(r), out: Ranges = [];
  let next = 0;
  for (let i = 0; i < n.length; i += 2) {
    if (n[i] > next) out.push(next, n[i] - 1);
    next = n[i + 1] + 1;
  }
  if (next <= MAX_CP) out.push(next, MAX_CP);
  return out;
}

const DIGIT: Ranges = [0x30, 0x39];
const WORD: Ranges = normalize([0x30, 0x39, 0x41, 0x5a, 0x5f, 0x5f, 0x61, 0x7a]);
// ECMAScript's \s: whitespace and line terminators.
const SPACE: Ranges = normalize([9, 13, 0x20, 0x20, 0xa0, 0xa0, 0x1680, 0x1680, 0x2000, 0x200a, 0x2028, 0x2029, 0x202f, 0x202f, 0x205f, 0x205f, 0x3000, 0x3000, 0xfeff, 0xfeff]);
const DOT: Ranges = negate([0x0a, 0x0a, 0x0d, 0x0d, 0x2028, 0x2029]);
const ANY: Ranges = [0, MAX_CP];

class Parser {
  private i = 0;
  constructor(private readonly src: string) {}

  parse(): { ast: Ast; anchoredStart: boolean; anchoredEnd: boolean } {
    let anchoredStart = false, anchoredEnd = false;
    if (this.src.startsWith('^')) { anchoredStart = true; this.i = 1; }
    let end = this.src.length;
    if (end > this.i && this.src.endsWith('$') && !this.escapedAt(end - 1)) { anchoredEnd = true; end--; }
    const body = new Parser(this.src.slice(this.i, end));
    const ast = body.alternation();
    if (body.i < body.src.length) throw new PatternError(this.src, `an unmatched ')' at offset ${body.i + this.i}`);
    return { ast, anchoredStart, anchoredEnd };
  }

  private escapedAt(k: number): boolean {
    let n = 0;
    while (k - 1 - n >= 0 && this.src[k - 1 - n] === '\\') n++;
    return n % 2 === 1;
  }

  private fail(feature: string): never { throw new PatternError(this.src, feature); }
  private peek(): string | undefined { return this.src[this.i]; }

  private alternation(): Ast {
    const xs = [this.concatenation()];
    while (this.peek() === '|') { this.i++; xs.push(this.concatenation()); }
    return xs.length === 1 ? xs[0] : { t: 'alt', xs };
  }

  private concatenation(): Ast {
    const xs: Ast[] = [];
    while (this.i < this.src.length && this.peek() !== '|' && this.peek() !== ')') xs.push(this.quantified());
    return { t: 'cat', xs };
  }

  private quantified(): Ast {
    let x = this.atom();
    for (;;) {
      const c = this.peek();
      let min: number, max: number;
      if (c === '*') { min = 0; max = Infinity; this.i++; }
      else if (c === '+') { min = 1; max = Infinity; this.i++; }
      else if (c === '?') { min = 0; max = 1; this.i++; }
      else if (c === '{' && /^\{\d+(,\d*)?\}/.test(this.src.slice(this.i))) {
        const m = /^\{(\d+)(,(\d*))?\}/.exec(this.src.slice(this.i))!;
        this.i += m[0].length;
        min = Number(m[1]);
        max = m[2] === undefined ? min : m[3] === '' ? Infinity : Number(m[3]);
        if (max < min) this.fail(`a quantifier {${min},${max}} with max < min`);
      } else return x;
      if (this.peek() === '?') this.i++; // lazy: same language
      x = { t: 'rep', x, min, max };
    }
  }

  private atom(): Ast {
    const c = this.src[this.i++];
    switch (c) {
      case '(': {
        if (this.src.startsWith('?:', this.i)) this.i += 2;
        else if (this.src.startsWith('?<', this.i) && !/^\?<[=!]/.test(this.src.slice(this.i))) {
          const close = this.src.indexOf('>', this.i);
          if (close < 0) this.fail('an unterminated group name');
          this.i = close + 1;
        } else if (this.peek() === '?') this.fail('lookaround or inline flags (?...)');
        const x = this.alternation();
        if (this.peek() !== ')') this.fail('an unterminated group');
        this.i++;
        return x;
      }
      case '[': return { t: 'set', r: this.charClass() };
      case '.': return { t: 'set', r: DOT };
      case '\\': return { t: 'set', r: this.escape(false) };
      case '^': case '$': return this.fail(`an anchor '${c}' inside the pattern`);
      case '*': case '+': case '?': return this.fail(`a quantifier '${c}' with nothing to repeat`);
      case ')': return this.fail(`an unmatched ')'`);
      default: {
        const cp = this.src.codePointAt(this.i - 1)!;
        if (cp > 0xffff) this.i++;
        return { t: 'set', r: [cp, cp] };
      }
    }
  }

  private charClass(): Ranges {
    const negated = this.peek() === '^';
    if (negated) this.i++;
    const r: Ranges = [];
    while (this.i < this.src.length && this.peek() !== ']') {
      const lo = this.classAtom();
      if (this.peek() === '-' && this.src[this.i + 1] !== ']' && this.i + 1 < this.src.length && lo.length === 2 && lo[0] === lo[1]) {
        this.i++;
        const hi = this.classAtom();
        if (hi.length !== 2 || hi[0] !== hi[1]) this.fail('a class range ending in a class escape');
        if (hi[0] < lo[0]) this.fail('a class range out of order');
        r.push(lo[0], hi[0]);
      } else r.push(...lo);
    }
    if (this.peek() !== ']') this.fail('an unterminated character class');
    this.i++;
    return negated ? negate(r) : normalize(r);
  }

  private classAtom(): Ranges {
    const c = this.src[this.i++];
    if (c === '\\') return this.escape(true);
    const cp = this.src.codePointAt(this.i - 1)!;
    if (cp > 0xffff) this.i++;
    return [cp, cp];
  }

  private escape(inClass: boolean): Ranges {
    const c = this.src[this.i++];
    if (c === undefined) this.fail('a trailing backslash');
    const one = (cp: number): Ranges => [cp, cp];
    switch (c) {
      case 'd': return DIGIT;
      case 'D': return negate(DIGIT);
      case 'w': return WORD;
      case 'W': return negate(WORD);
      case 's': return SPACE;
      case 'S': return negate(SPACE);
      case 'n': return one(10);
      case 'r': return one(13);
      case 't': return one(9);
      case 'f': return one(12);
      case 'v': return one(11);
      case '0': return one(0);
      case 'b': return inClass ? one(8) : this.fail('a word boundary \\b');
      case 'B': return this.fail('a word boundary \\B');
      case 'x': {
        const m = /^[0-9a-fA-F]{2}/.exec(this.src.slice(this.i));
        if (!m) this.fail('a malformed \\x escape');
        this.i += 2;
        return one(parseInt(m[0], 16));
      }
      case 'u': {
        const braced = /^\{([0-9a-fA-F]{1,6})\}/.exec(this.src.slice(this.i));
        if (braced) { this.i += braced[0].length; return one(parseInt(braced[1], 16)); }
        const m = /^[0-9a-fA-F]{4}/.exec(this.src.slice(this.i));
        if (!m) this.fail('a malformed \\u escape');
        this.i += 4;
        return one(parseInt(m[0], 16));
      }
      case 'p': case 'P': return this.fail(`a Unicode property escape \\${c}{...}`);
      case 'k': return this.fail('a named backreference \\k<...>');
      case 'c': return this.fail('a control escape \\c');
      default:
        if (/[1-9]/.test(c)) this.fail(`a backreference \\${c}`);
        if (/[A-Za-z]/.test(c)) this.fail(`an unknown escape \\${c}`);
        return one(c.codePointAt(0)!);
    }
  }
}

/** A pattern compiled to an NFA, determinized lazily. DFA state 0 is the start; -1 is dead. */
export class Regex {
  // NFA: per state, epsilon targets and (ranges, target) edges.
  private eps: number[][] = [];
  private edges: { r: Ranges; to: number }[][] = [];
  private accept = 0;
  private dfaSets: number[][] = [];
  private dfaIds = new Map<string, number>();
  private dfaNext: Map<number, number>[] = [];
  private dfaAccepting: boolean[] = [];

  constructor(readonly source: string) {
    let parsed;
    try {
      parsed = new Parser(source).parse();
    } catch (e) {
      if (e instanceof PatternError) throw e;
      throw new PatternError(source, `syntax this parser does not understand (${(e as Error).message})`);
    }
    const parts: Ast[] = [];
    const anything: Ast = { t: 'rep', x: { t: 'set', r: ANY }, min: 0, max: Infinity };
    if (!parsed.anchoredStart) parts.push(anything);
    parts.push(parsed.ast);
    if (!parsed.anchoredEnd) parts.push(anything);
    const start = this.state();
    this.accept = this.build({ t: 'cat', xs: parts }, start);
    this.dfaState(this.closure([start]));
  }

  private state(): number {
    if (this.eps.length >= MAX_NFA_STATES) throw new PatternError(this.source, `more than ${MAX_NFA_STATES} automaton states (large {n,m} repeats)`);
    this.eps.push([]);
    this.edges.push([]);
    return this.eps.length - 1;
  }

  /** Adds `ast` starting at state `from`; returns its end state. */
  private build(ast: Ast, from: number): number {
    switch (ast.t) {
      case 'set': {
        const to = this.state();
        this.edges[from].push({ r: ast.r, to });
        return to;
      }
      case 'cat': return ast.xs.reduce((s, x) => this.build(x, s), from);
      case 'alt': {
        const end = this.state();
        for (const x of ast.xs) {
          const s = this.state();
          this.eps[from].push(s);
          this.eps[this.build(x, s)].push(end);
        }
        return end;
      }
      case 'rep': {
        let s = from;
        for (let k = 0; k < ast.min; k++) s = this.build(ast.x, s);
        if (ast.max === Infinity) {
          const loop = this.state();
          this.eps[s].push(loop);
          this.eps[this.build(ast.x, loop)].push(loop);
          return loop;
        }
        const end = this.state();
        this.eps[s].push(end);
        for (let k = ast.min; k < ast.max; k++) {
          s = this.build(ast.x, s);
          this.eps[s].push(end);
        }
        return end;
      }
    }
  }

  private closure(states: number[]): number[] {
    const seen = new Set(states), stack = [...states];
    while (stack.length) for (const t of this.eps[stack.pop()!]) if (!seen.has(t)) { seen.add(t); stack.push(t); }
    return [...seen].sort((a, b) => a - b);
  }

  private dfaState(set: number[]): number {
    if (set.length === 0) return -1;
    const key = set.join(',');
    let id = this.dfaIds.get(key);
    if (id === undefined) {
      id = this.dfaSets.length;
      this.dfaIds.set(key, id);
      this.dfaSets.push(set);
      this.dfaNext.push(new Map());
      this.dfaAccepting.push(set.includes(this.accept));
    }
    return id;
  }

  /** The DFA state after code point `cp` from `state` (-1: no match possible). */
  step(state: number, cp: number): number {
    const memo = this.dfaNext[state];
    let next = memo.get(cp);
    if (next !== undefined) return next;
    const targets: number[] = [];
    for (const s of this.dfaSets[state]) {
      for (const { r, to } of this.edges[s]) {
        for (let i = 0; i < r.length; i += 2) if (cp >= r[i] && cp <= r[i + 1]) { targets.push(to); break; }
      }
    }
    next = this.dfaState(this.closure(targets));
    memo.set(cp, next);
    return next;
  }

  accepting(state: number): boolean { return state >= 0 && this.dfaAccepting[state]; }

  private rangeMemo = new Map<string, boolean>();
  /** Whether some code point in [lo, hi] can follow in `state` (a partial UTF-8 character or \u escape worth continuing). */
  liveInRange(state: number, lo: number, hi: number): boolean {
    const key = `${state},${lo},${hi}`;
    let live = this.rangeMemo.get(key);
    if (live === undefined) {
      live = false;
      outer: for (const s of this.dfaSets[state]) {
        for (const { r } of this.edges[s]) {
          for (let i = 0; i < r.length; i += 2) if (r[i] <= hi && r[i + 1] >= lo) { live = true; break outer; }
        }
      }
      this.rangeMemo.set(key, live);
    }
    return live;
  }

  /** Whether the whole string matches (a reference for tests). */
  matches(s: string): boolean {
    let st = 0;
    for (const ch of s) { st = this.step(st, ch.codePointAt(0)!); if (st < 0) return false; }
    return this.accepting(st);
  }
}

// Patterns repeat across requests; one lazily built DFA per source keeps state ids stable,
// so mask caches keyed by DFA state stay valid across schemas.
const compiled = new Map<string, Regex>();
export function compileRegex(source: string): Regex {
  let r = compiled.get(source);
  if (!r) {
    r = new Regex(source);
    if (compiled.size >= 256) compiled.delete(compiled.keys().next().value!);
    compiled.set(source, r);
  }
  return r;
}
