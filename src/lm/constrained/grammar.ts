// The JSON recognizer: a pushdown automaton over bytes, driven by a compiled schema. A state
// is a set of stacks of frames (one frame per open value: object, array, string, number,
// literal); a set, because anyOf may leave several readings alive until a byte tells them
// apart. Frames are immutable and interned, and each frame memoizes its transition on each
// byte, so advancing is a table lookup plus, at most, a new stack cell: cloning a state is
// copying a small array.
import { FREE_STRING, deref, stringNode, type ArrayNode, type LiteralNode, type NumberNode, type ObjectNode, type SchemaNode, type StringNode } from './schema.js';

/** The end of input, as a pseudo-byte. */
export const END = 256;

export const enum Kind { Doc, Obj, Arr, Str, Num, Lit }
// Phases. Doc: before the value / done. Obj and Arr: where in the container we are.
const DOC_START = 0, DOC_DONE = 1;
const O_OPEN = 0, O_KEY = 1, O_COLON = 2, O_VALUE = 3, O_AFTER = 4, O_COMMA = 5;
const A_OPEN = 0, A_AFTER = 1, A_COMMA = 2;
const S_BODY = 0, S_ESC = 1, S_UESC = 2, S_UTF8 = 3;
const N_SIGN = 0, N_ZERO = 1, N_INT = 2, N_DOT = 3, N_FRAC = 4, N_E = 5, N_ESIGN = 6, N_EXP = 7;
/** A twin string's length cap: more than any token's characters, so the twin never rejects for length. */
export const TWIN_MAX = 1 << 16;
/** Digits allowed in a number's integer part, fraction and exponent (numbers end; integers stay exact). */
export const MAX_INT_DIGITS = 15, MAX_FRAC_DIGITS = 15, MAX_EXP_DIGITS = 2;

export interface Frame {
  readonly uid: number;
  readonly key: string;
  /** What the frame's token mask depends on: frames with equal maskKeys share a cached mask. */
  readonly maskKey: string;
  readonly kind: Kind;
  readonly phase: number;
  /** Obj: property index (-1: a free key); Arr: items so far; Str: characters so far; Num: digits in this part. */
  readonly n: number;
  /** Whitespace bytes in the current run (Doc, Obj, Arr). */
  readonly ws: number;
  readonly node: SchemaNode | null;
  /** Obj: the key bytes matched so far; Lit: the literal bytes matched so far. */
  readonly text: string;
  /** Str: DFA state of the pattern; UTF-8 / \u escape progress. */
  readonly rx: number;
  readonly need: number;
  readonly lo: number;
  readonly hi: number;
  readonly cp: number;
  memo: (Outcome[] | undefined)[] | null;
}

/** What a frame does with a byte: replace itself by frames[0] and push the rest; pop after consuming it; or pop and hand it to the frame below. */
export type Outcome = readonly Frame[] | typeof POP | typeof PASS;
export const POP = { pop: 'consumed' } as const;
export const PASS = { pop: 'pass' } as const;

/** A stack of frames as a persistent list; `below === null` only in mask walks (the frames under the walk's root are unknown). */
export interface Stack { readonly frame: Frame; readonly below: Stack | null }

const isWs = (b: number) => b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09;
const isDigit = (b: number) => b >= 0x30 && b <= 0x39;
const hexValue = (b: number) => (isDigit(b) ? b - 0x30 : b >= 0x61 && b <= 0x66 ? b - 0x57 : b >= 0x41 && b <= 0x46 ? b - 0x37 : -1);
const ESCAPES: Record<number, number> = { 0x22: 0x22, 0x5c: 0x5c, 0x2f: 0x2f, 0x62: 8, 0x66: 12, 0x6e: 10, 0x72: 13, 0x74: 9 };

let nextUid = 1;

export interface GrammarOptions {
  /** The longest run of whitespace allowed between JSON tokens. Default 16. */
  maxWhitespace?: number;
}

/** A compiled schema's recognizer: interns frames and steps stacks. */
export class Grammar {
  readonly maxWhitespace: number;
  private readonly frames = new Map<string, Frame>();
  private readonly twins = new Map<number, StringNode>();

  constructor(readonly root: SchemaNode, options: GrammarOptions = {}) {
    this.maxWhitespace = options.maxWhitespace ?? 16;
    if (!Number.isInteger(this.maxWhitespace) || this.maxWhitespace < 0) throw new Error(`[Grammar] maxWhitespace must be a non-negative integer, got ${this.maxWhitespace}`);
  }

  /** The start state: one stack holding the document frame. */
  initial(): Stack[] {
    return [{ frame: this.frame(Kind.Doc, DOC_START, 0, 0, this.root, ''), below: null }];
  }

  private frame(kind: Kind, phase: number, n: number, ws: number, node: SchemaNode | null, text: string, rx = 0, need = 0, lo = 0, hi = 0, cp = 0): Frame {
    const owner = kind === Kind.Str ? (node as StringNode).sig : kind === Kind.Num ? Number((node as NumberNode).integer) : node!.id;
    const key = `${kind}.${owner}.${phase}.${n}.${ws}.${rx}.${need}.${lo}.${hi}.${cp}.${text}`;
    let f = this.frames.get(key);
    if (!f) {
      // Strings and numbers behave the same in every grammar (their keys name constraints,
      // not nodes); containers also depend on the whitespace limit.
      const maskKey = kind === Kind.Str || kind === Kind.Num ? key : `w${this.maxWhitespace}|${key}`;
      f = { uid: nextUid++, key, maskKey, kind, phase, n, ws, node, text, rx, need, lo, hi, cp, memo: null };
      this.frames.set(key, f);
    }
    return f;
  }

  get frameCount(): number { return this.frames.size; }

  /** The frames that begin a value of `node` with byte b (b consumed). */
  startValue(node: SchemaNode, b: number, seen: Set<number> = new Set()): Frame[] {
    const n = deref(node);
    if (seen.has(n.id)) return [];
    seen.add(n.id);
    switch (n.kind) {
      case 'union': {
        const out: Frame[] = [];
        for (const o of n.options) for (const f of this.startValue(o, b, seen)) if (!out.includes(f)) out.push(f);
        return out;
      }
      case 'object': return b === 0x7b ? [this.frame(Kind.Obj, O_OPEN, 0, 0, n, '')] : [];
      case 'array': return b === 0x5b ? [this.frame(Kind.Arr, A_OPEN, 0, 0, n, '')] : [];
      case 'string': return b === 0x22 ? [this.frame(Kind.Str, S_BODY, 0, 0, n, '')] : [];
      case 'number':
        if (b === 0x2d) return [this.frame(Kind.Num, N_SIGN, 0, 0, n, '')];
        if (b === 0x30) return [this.frame(Kind.Num, N_ZERO, 0, 0, n, '')];
        if (isDigit(b)) return [this.frame(Kind.Num, N_INT, 1, 0, n, '')];
        return [];
      case 'literal': {
        const c = String.fromCharCode(b);
        return n.values.some((v) => v.startsWith(c)) ? [this.frame(Kind.Lit, 0, 0, 0, n, c)] : [];
      }
    }
  }

  /** A frame's outcomes for byte b (or END), memoized. */
  transitions(f: Frame, b: number): Outcome[] {
    const memo = (f.memo ??= new Array(257));
    let out = memo[b];
    if (!out) memo[b] = out = this.compute(f, b);
    return out;
  }

  private ws(f: Frame, b: number): Outcome[] | null {
    if (!isWs(b)) return null;
    return f.ws < this.maxWhitespace ? [[this.frame(f.kind, f.phase, f.n, f.ws + 1, f.node, f.text)]] : [];
  }

  private compute(f: Frame, b: number): Outcome[] {
    if (b === END && (f.kind === Kind.Obj || f.kind === Kind.Arr || f.kind === Kind.Str)) return [];
    switch (f.kind) {
      case Kind.Doc: {
        if (f.phase === DOC_DONE) return [];
        const w = this.ws(f, b);
        if (w) return w;
        const done = this.frame(Kind.Doc, DOC_DONE, 0, 0, f.node, '');
        return b === END ? [] : this.startValue(f.node!, b).map((c) => [done, c]);
      }
      case Kind.Obj: return this.object(f, f.node as ObjectNode, b);
      case Kind.Arr: return this.array(f, f.node as ArrayNode, b);
      case Kind.Str: return this.string(f, f.node as StringNode, b);
      case Kind.Num: return this.number(f, b);
      case Kind.Lit: return this.literal(f, f.node as LiteralNode, b);
    }
  }

  private object(f: Frame, o: ObjectNode, b: number): Outcome[] {
    const at = (phase: number, n: number, text = '') => this.frame(Kind.Obj, phase, n, 0, o, text);
    const free = o.extra !== null;
    const closable = free || o.firstRequired[f.n < 0 ? o.props.length : f.n] === o.props.length;
    switch (f.phase) {
      case O_OPEN: case O_COMMA: {
        const w = this.ws(f, b);
        if (w) return w;
        if (b === 0x22) {
          if (free) return [[at(O_COLON, -1), this.frame(Kind.Str, S_BODY, 0, 0, FREE_STRING, '')]];
          return f.n < o.props.length ? [[at(O_KEY, f.n)]] : [];
        }
        return b === 0x7d && f.phase === O_OPEN && closable ? [POP] : [];
      }
      case O_KEY: {
        // Candidates: the next property or any later one, skipping only optional ones.
        const text = f.text + String.fromCharCode(b);
        let extends_ = false;
        for (let j = f.n; j <= Math.min(o.firstRequired[f.n], o.props.length - 1); j++) {
          const key = o.props[j].key;
          if (key === text) return [[at(O_COLON, j)]];
          if (key.startsWith(text)) extends_ = true;
        }
        return extends_ ? [[at(O_KEY, f.n, text)]] : [];
      }
      case O_COLON: return this.ws(f, b) ?? (b === 0x3a ? [[at(O_VALUE, f.n)]] : []);
      case O_VALUE: {
        const w = this.ws(f, b);
        if (w) return w;
        const valueNode = f.n < 0 ? o.extra! : o.props[f.n].node;
        const after = at(O_AFTER, f.n < 0 ? -1 : f.n + 1);
        return this.startValue(valueNode, b).map((c) => [after, c]);
      }
      case O_AFTER: {
        const w = this.ws(f, b);
        if (w) return w;
        if (b === 0x2c) return free || f.n < o.props.length ? [[at(O_COMMA, f.n)]] : [];
        return b === 0x7d && closable ? [POP] : [];
      }
    }
    return [];
  }

  private array(f: Frame, a: ArrayNode, b: number): Outcome[] {
    const cap = Math.max(a.minItems, a.maxItems === Infinity ? a.minItems : a.maxItems);
    const item = (): Outcome[] => {
      if (f.n >= a.maxItems) return [];
      const after = this.frame(Kind.Arr, A_AFTER, Math.min(f.n + 1, cap), 0, a, '');
      return this.startValue(a.items, b).map((c) => [after, c]);
    };
    const w = this.ws(f, b);
    if (w) return w;
    switch (f.phase) {
      case A_OPEN: return b === 0x5d ? (a.minItems === 0 ? [POP] : []) : item();
      case A_AFTER:
        if (b === 0x2c) return f.n < a.maxItems ? [[this.frame(Kind.Arr, A_COMMA, f.n, 0, a, '')]] : [];
        return b === 0x5d && f.n >= a.minItems ? [POP] : [];
      default: return item();
    }
  }

  private string(f: Frame, s: StringNode, b: number): Outcome[] {
    const str = (sub: number, n: number, rx: number, need = 0, lo = 0, hi = 0, cp = 0) => this.frame(Kind.Str, sub, n, 0, s, '', rx, need, lo, hi, cp);
    const char = (cp: number): Outcome[] => {
      const n = f.n + 1;
      if (n > s.maxLength) return [];
      let rx = f.rx;
      if (s.pattern) {
        rx = s.pattern.step(rx, cp);
        if (rx < 0) return [];
      }
      return [[str(S_BODY, s.maxLength === Infinity ? Math.min(n, s.minLength) : n, rx)]];
    };
    // A character may start only if it can finish: room under maxLength, and (with a
    // pattern) some code point it can still become is one the pattern takes.
    const canStart = f.n < s.maxLength;
    const viable = (lo: number, hi: number) => !s.pattern || s.pattern.liveInRange(f.rx, lo, hi);
    const keepCp = s.pattern !== null; // code points matter only to a pattern
    switch (f.phase) {
      case S_BODY: {
        if (b === 0x22) return f.n >= s.minLength && (!s.pattern || s.pattern.accepting(f.rx)) ? [POP] : [];
        if (!canStart || b < 0x20) return [];
        if (b === 0x5c) return viable(0, 0xffff) ? [[str(S_ESC, f.n, f.rx)]] : [];
        if (b < 0x80) return char(b);
        // UTF-8 lead bytes, with the ranges that keep the sequence well formed.
        let need = 0, lo = 0x80, hi = 0xbf, bits = 0;
        if (b >= 0xc2 && b <= 0xdf) { need = 1; bits = b & 0x1f; }
        else if (b >= 0xe0 && b <= 0xef) { need = 2; bits = b & 0x0f; if (b === 0xe0) lo = 0xa0; if (b === 0xed) hi = 0x9f; }
        else if (b >= 0xf0 && b <= 0xf4) { need = 3; bits = b & 0x07; if (b === 0xf0) lo = 0x90; if (b === 0xf4) hi = 0x8f; }
        else return [];
        // The code points this lead can still become (the next byte's range excludes overlong forms and surrogates).
        const rest = 6 * (need - 1), first = (bits << (6 * need)) | ((lo & 0x3f) << rest);
        if (!viable(first, (bits << (6 * need)) | ((hi & 0x3f) << rest) | ((1 << rest) - 1))) return [];
        return [[str(S_UTF8, f.n, f.rx, need, lo, hi, keepCp ? bits : 0)]];
      }
      case S_ESC:
        if (b === 0x75) return viable(0, 0xffff) ? [[str(S_UESC, f.n, f.rx, 4)]] : [];
        return b in ESCAPES ? char(ESCAPES[b]) : [];
      case S_UESC: {
        const v = hexValue(b);
        if (v < 0) return [];
        // No surrogate escapes (\uD800-\uDFFF): a lone one is not a character.
        if (f.need === 3 && f.cp === 0xd && v >= 8) return [];
        const cp = (f.cp << 4) | v;
        if (f.need === 1) return char(cp);
        const first = cp << (4 * (f.need - 1));
        if (!viable(first, first | ((1 << (4 * (f.need - 1))) - 1))) return [];
        return [[str(S_UESC, f.n, f.rx, f.need - 1, 0, 0, keepCp || f.need === 4 ? cp : 0)]];
      }
      case S_UTF8: {
        if (b < f.lo || b > f.hi) return [];
        const cp = (f.cp << 6) | (b & 0x3f);
        if (f.need === 1) return char(cp);
        const first = cp << (6 * (f.need - 1));
        if (!viable(first, first | ((1 << (6 * (f.need - 1))) - 1))) return [];
        return [[str(S_UTF8, f.n, f.rx, f.need - 1, 0x80, 0xbf, keepCp ? cp : 0)]];
      }
    }
    return [];
  }

  /**
   * For a string with length bounds: the same state in a string without them, counting from
   * zero. Masks come from the twin's walk (one per state, not one per length) and are cut
   * to the room left at run time (see mask.ts).
   */
  twin(f: Frame): Frame | null {
    if (f.kind !== Kind.Str) return null;
    const s = f.node as StringNode;
    if (s.minLength === 0 && s.maxLength === Infinity) return null;
    let t = this.twins.get(s.sig);
    if (!t) this.twins.set(s.sig, (t = stringNode(0, TWIN_MAX, s.pattern)));
    return this.frame(Kind.Str, f.phase, 0, 0, t, '', f.rx, f.need, f.lo, f.hi, f.cp);
  }

  private number(f: Frame, b: number): Outcome[] {
    const integer = (f.node as { integer: boolean }).integer;
    const to = (phase: number, n = 0) => [[this.frame(Kind.Num, phase, n, 0, f.node, '')]];
    const complete = f.phase === N_ZERO || f.phase === N_INT || f.phase === N_FRAC || f.phase === N_EXP;
    const digit = isDigit(b);
    switch (f.phase) {
      case N_SIGN: return b === 0x30 ? to(N_ZERO) : digit ? to(N_INT, 1) : [];
      case N_ZERO: case N_INT:
        if (digit && f.phase === N_INT && f.n < MAX_INT_DIGITS) return to(N_INT, f.n + 1);
        if (!integer && b === 0x2e) return to(N_DOT);
        if (!integer && (b === 0x65 || b === 0x45)) return to(N_E);
        break;
      case N_DOT: return digit ? to(N_FRAC, 1) : [];
      case N_FRAC:
        if (digit && f.n < MAX_FRAC_DIGITS) return to(N_FRAC, f.n + 1);
        if (b === 0x65 || b === 0x45) return to(N_E);
        break;
      case N_E: return b === 0x2b || b === 0x2d ? to(N_ESIGN) : digit ? to(N_EXP, 1) : [];
      case N_ESIGN: return digit ? to(N_EXP, 1) : [];
      case N_EXP:
        if (digit && f.n < MAX_EXP_DIGITS) return to(N_EXP, f.n + 1);
        break;
    }
    // A digit past the limit must not end the number (the frame below would reject it anyway).
    return complete && !digit ? [PASS] : [];
  }

  private literal(f: Frame, l: LiteralNode, b: number): Outcome[] {
    if (b !== END) {
      const text = f.text + String.fromCharCode(b);
      if (l.values.some((v) => v.startsWith(text))) {
        // A complete literal that nothing extends ends here; a number literal may go on ("1" vs "12").
        const longer = l.values.some((v) => v.length > text.length && v.startsWith(text));
        return !longer && l.values.includes(text) ? [POP] : [[this.frame(Kind.Lit, 0, 0, 0, l, text)]];
      }
    }
    return l.values.includes(f.text) ? [PASS] : [];
  }

  /** Steps a stack by byte b, pushing the surviving stacks on `out`; returns 1 | 2 when the walk's root popped (consuming b | passing it on). */
  step(st: Stack, b: number, out: Stack[]): number {
    let flags = 0;
    for (const o of this.transitions(st.frame, b)) {
      if (o === POP) {
        if (st.below === null) flags |= 1;
        else out.push(st.below);
      } else if (o === PASS) {
        if (st.below === null) flags |= 2;
        else flags |= this.step(st.below, b, out);
      } else {
        const fs = o as readonly Frame[];
        let s: Stack = fs[0] === st.frame ? st : { frame: fs[0], below: st.below };
        for (let k = 1; k < fs.length; k++) s = { frame: fs[k], below: s };
        out.push(s);
      }
    }
    return flags;
  }

  /** Whether the input may end here (the document is complete). */
  canEnd(st: Stack | null): boolean {
    for (let s = st; s !== null; s = s.below) {
      const f = s.frame;
      if (f.kind === Kind.Doc) return f.phase === DOC_DONE;
      if (!this.transitions(f, END).includes(PASS)) return false;
    }
    return false;
  }

  /** Whether nothing can follow (the document frame alone, done). */
  isDone(st: Stack): boolean {
    return st.below === null && st.frame.kind === Kind.Doc && st.frame.phase === DOC_DONE;
  }

  /** Advances a state by bytes; an empty result means the bytes are not allowed. */
  advance(state: readonly Stack[], bytes: ArrayLike<number>): Stack[] {
    let cur = state as Stack[];
    for (let i = 0; i < bytes.length && cur.length > 0; i++) {
      const next: Stack[] = [];
      for (const s of cur) this.step(s, bytes[i], next);
      cur = dedupe(next);
    }
    return cur;
  }
}

/** Drops stacks equal to another (same frames all the way down), so anyOf readings that merge stay one. */
export function dedupe(stacks: Stack[]): Stack[] {
  if (stacks.length < 2) return stacks;
  const seen = new Set<string>(), out: Stack[] = [];
  for (const s of stacks) {
    let k = '';
    for (let t: Stack | null = s; t !== null; t = t.below) k += `${t.frame.uid},`;
    if (!seen.has(k)) { seen.add(k); out.push(s); }
  }
  return out;
}
