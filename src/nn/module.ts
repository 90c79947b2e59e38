// nn.Module: the base class of layers and models, as mlx.nn.Module. A module's parameters
// are its own Array-valued properties (and arrays inside plain objects and JS arrays); its
// children are Module-valued properties (also inside objects and JS arrays). Property names
// are the checkpoint keys, so `layers.0.self_attn.q_proj.weight` loads with no mapping.
import { Array, DType, DTypeLike, astype, toDtype } from '../core/index.js';
import { treeFlatten, treeUnflatten, isPlainObject } from '../utils/index.js';
import { load, savez, saveSafetensors } from '../io/index.js';

/** The parameters of a module: nested objects and JS arrays of arrays. `{}` marks a child without any. */
export type ParamTree = { [key: string]: ParamNode };
export type ParamNode = Array | ParamNode[] | ParamTree;
/** The submodules of a module, nested as they are held (`{}` marks a slot without a module). */
export type ModuleTree = { [key: string]: ModuleNode };
export type ModuleNode = Module | ModuleNode[] | ModuleTree;

/** Decides whether `value`, found under `key` of `module`, is kept by filterAndMap. */
export type ModuleFilter = (module: Module, key: string, value: unknown) => boolean;

export interface FreezeOptions {
  /** Also (un)freeze the submodules. Default true. */
  recurse?: boolean;
  /** Only these parameter names (`'bias'`, or dotted paths inside a module's own objects). Default: all. */
  keys?: string | readonly string[] | null;
  /** Fail when a key is not a member of a module. Default false. */
  strict?: boolean;
}

const isContainer = (x: unknown): x is unknown[] | Record<string, unknown> => globalThis.Array.isArray(x) || isPlainObject(x);

/** Whether a value is part of the module tree: an array, a module, or a container holding one. */
function holdsTree(x: unknown): boolean {
  if (x instanceof Array || x instanceof Module) return true;
  if (globalThis.Array.isArray(x)) return x.some(holdsTree);
  if (isPlainObject(x)) return Object.values(x).some(holdsTree);
  return false;
}

const fmtShape = (s: readonly number[]) => `(${s.join(',')}${s.length === 1 ? ',' : ''})`;

export class Module {
  /** Names (own keys or dotted paths in own containers) excluded from trainableParameters. */
  protected _noGrad = new Set<string>();
  protected _training = true;

  /**
   * The module's computation; subclasses define it with their own signature
   * (`forward(x: Array): Array`). `model.forward(x)` is MLX's `model(x)`.
   */
  forward(..._args: unknown[]): unknown {
    throw new Error(`[Module] ${this.constructor.name} does not define forward()`);
  }

  /** Whether the module is in training mode (dropout active, batch statistics updated). */
  get training(): boolean { return this._training; }

  /**
   * The module's tree entries in order (MLX's dict items): own properties holding an array,
   * a module, or plain objects / JS arrays that contain one. Configuration (numbers,
   * strings, objects without arrays) is not part of the tree.
   */
  items(): [string, unknown][] {
    return Object.keys(this).filter((k) => holdsTree((this as Record<string, unknown>)[k])).map((k) => [k, (this as Record<string, unknown>)[k]]);
  }

  /** Whether `key` is one of the module's tree entries. */
  has(key: string): boolean {
    return Object.hasOwn(this, key) && holdsTree((this as Record<string, unknown>)[key]);
  }

  static isModule(value: unknown): value is Module { return value instanceof Module; }
  static validChildFilter: ModuleFilter = (_m, _k, v) => v instanceof Module || isContainer(v);
  static validParameterFilter: ModuleFilter = (_m, k, v) => (v instanceof Array || v instanceof Module || isContainer(v)) && !k.startsWith('_');
  static trainableParameterFilter: ModuleFilter = (m, k, v) => Module.validParameterFilter(m, k, v) && !m._noGrad.has(k);

  /**
   * The module's contents, recursively, keeping what `filterFn` accepts and passing leaves
   * through `mapFn`. Inside plain objects and JS arrays, rejected entries become `{}` so
   * indices still line up (as MLX); keys there are dotted paths relative to the owning module.
   */
  filterAndMap(filterFn: ModuleFilter, mapFn: (x: Array) => unknown = (x) => x,
    isLeafFn: ModuleFilter = (_m, _k, v) => !(v instanceof Module || isContainer(v))): { [key: string]: unknown } {
    const unwrap = (owner: Module, key: string, value: unknown): unknown => {
      if (isLeafFn(owner, key, value)) return mapFn(value as Array);
      if (value instanceof Module) return value.filterAndMap(filterFn, mapFn, isLeafFn);
      if (globalThis.Array.isArray(value)) {
        return value.map((v, i) => (filterFn(owner, `${key}.${i}`, v) ? unwrap(owner, `${key}.${i}`, v) : {}));
      }
      if (isPlainObject(value)) {
        const out: Record<string, unknown> = {};
        for (const [k, v] of Object.entries(value)) out[k] = filterFn(owner, `${key}.${k}`, v) ? unwrap(owner, `${key}.${k}`, v) : {};
        return out;
      }
      throw new Error(`[Module.filterAndMap] unexpected leaf under '${key}' of ${owner.constructor.name}: ${typeof value}`);
    };
    const out: { [key: string]: unknown } = {};
    for (const [k, v] of this.items()) if (filterFn(this, k, v)) out[k] = unwrap(this, k, v);
    return out;
  }

  /** Every array of the module and its submodules, as a tree. */
  parameters(): ParamTree { return this.filterAndMap(Module.validParameterFilter) as ParamTree; }

  /** The parameters that are not frozen (what nn.valueAndGrad differentiates). */
  trainableParameters(): ParamTree { return this.filterAndMap(Module.trainableParameterFilter) as ParamTree; }

  /** The direct submodules, nested as held. */
  children(): ModuleTree {
    return this.filterAndMap(Module.validChildFilter, undefined, (_m, _k, v) => v instanceof Module) as ModuleTree;
  }

  /** The submodules (at any depth) that have no submodules themselves. */
  leafModules(): ModuleTree {
    const isLeafModule: ModuleFilter = (_m, _k, v) => v instanceof Module && treeFlatten(v.children(), '', Module.isModule).length === 0;
    return this.filterAndMap(Module.validChildFilter, undefined, isLeafModule) as ModuleTree;
  }

  /**
   * Calls fn(name, module) on this module (name '') and every submodule, depth first from a
   * stack as MLX (so later siblings come first); names are dotted paths (`layers.1`).
   */
  applyToModules(fn: (name: string, module: Module) => void): this {
    const stack: [string, Module][] = [['', this]];
    while (stack.length) {
      const [prefix, mod] = stack.pop()!;
      fn(prefix, mod);
      stack.push(...treeFlatten<Module>(mod.children(), prefix, Module.isModule));
    }
    return this;
  }

  /** This module and all its submodules, in applyToModules order. */
  modules(): Module[] {
    const out: Module[] = [];
    this.applyToModules((_k, m) => out.push(m));
    return out;
  }

  /** [dottedName, module] for this module ('') and all its submodules, in applyToModules order. */
  namedModules(): [string, Module][] {
    const out: [string, Module][] = [];
    this.applyToModules((k, m) => out.push([k, m]));
    return out;
  }

  /**
   * Replaces parameters with the arrays in `parameters` (a full or partial tree like
   * parameters()). Strict (the default) requires every key to name an existing parameter
   * and every value at an array's place to be an array.
   */
  update(parameters: object, strict = true): this {
    const fail = (msg: string): never => { throw new Error(`[Module.update] ${msg}`); };
    const apply = (dst: unknown, src: unknown, path: string): void => {
      src = listAsObject(dst, src);
      if (isPlainObject(src)) {
        for (const [k, v] of Object.entries(src)) {
          const at = path ? `${path}.${k}` : k;
          if (!hasEntry(dst, k)) { if (strict) fail(`${describe(dst)} has no parameter named '${at}'`); continue; }
          const cur = (dst as Record<string, unknown>)[k];
          if (cur instanceof Array) {
            if (strict && !(v instanceof Array)) fail(`expected an array for '${at}', got ${typeName(v)}`);
            (dst as Record<string, unknown>)[k] = v;
          } else apply(cur, v, at);
        }
      } else if (globalThis.Array.isArray(src)) {
        if (!globalThis.Array.isArray(dst)) { if (strict) fail(`expected an object for '${path}', got a list`); return; }
        src.forEach((v, i) => {
          const at = path ? `${path}.${i}` : `${i}`;
          if (i >= dst.length) { if (strict) fail(`'${path}' has ${dst.length} entries, got a value for '${at}'`); return; }
          if (dst[i] instanceof Array) {
            if (strict && !(v instanceof Array)) fail(`expected an array for '${at}', got ${typeName(v)}`);
            dst[i] = v;
          } else apply(dst[i], v, at);
        });
      } else if (strict) fail(`expected an object or a list at '${path || '(root)'}', got ${typeName(src)}`);
    };
    apply(this, parameters, '');
    return this;
  }

  /** Maps every parameter (those filterFn accepts) through mapFn and stores the results. */
  apply(mapFn: (x: Array) => Array, filterFn: ModuleFilter = Module.validParameterFilter): this {
    return this.update(this.filterAndMap(filterFn, mapFn));
  }

  /**
   * Replaces submodules with the modules in `modules` (a full or partial tree like
   * children()), e.g. to swap layers for quantized or LoRA ones.
   */
  updateModules(modules: object, strict = true): this {
    const fail = (msg: string): never => { throw new Error(`[Module.updateModules] ${msg}`); };
    const apply = (dst: unknown, src: unknown, path: string): void => {
      src = listAsObject(dst, src);
      const put = (key: string | number, cur: unknown, v: unknown, at: string) => {
        if (cur instanceof Module && v instanceof Module) (dst as Record<string | number, unknown>)[key] = v;
        else if (cur instanceof Module || isContainer(cur)) apply(cur, v, at);
        else if (isPlainObject(v) && Object.keys(v).length === 0) return; // a placeholder from leafModules() for a non-module entry
        else if (strict) fail(`expected a module for '${at}', got ${typeName(v)} (the current value is ${typeName(cur)})`);
      };
      if (isPlainObject(src)) {
        for (const [k, v] of Object.entries(src)) {
          const at = path ? `${path}.${k}` : k;
          if (!hasEntry(dst, k)) { if (strict) fail(`${describe(dst)} has no submodule named '${at}'`); continue; }
          put(k, (dst as Record<string, unknown>)[k], v, at);
        }
      } else if (globalThis.Array.isArray(src)) {
        if (!globalThis.Array.isArray(dst)) { if (strict) fail(`expected an object for '${path}', got a list`); return; }
        src.forEach((v, i) => {
          if (i < dst.length) put(i, dst[i], v, path ? `${path}.${i}` : `${i}`);
          else if (strict) fail(`'${path}' has ${dst.length} entries, got a value for index ${i}`);
        });
      } else if (strict) fail(`expected an object or a list at '${path || '(root)'}', got ${typeName(src)}`);
    };
    apply(this, modules, '');
    return this;
  }

  private validateKeys(where: string, keys: string | readonly string[], strict: boolean): string[] {
    const list = typeof keys === 'string' ? [keys] : [...keys];
    if (strict) {
      const missing = list.filter((k) => !this.has(k));
      if (missing.length) throw new Error(`[Module.${where}] ${this.constructor.name} has no member${missing.length > 1 ? 's' : ''} ${missing.map((k) => `'${k}'`).join(', ')}; it has ${this.items().map(([k]) => `'${k}'`).join(', ') || 'none'}`);
    }
    return list;
  }

  /** Freezes this module's own parameters (all, or `keys`); freeze() calls it on each module. */
  protected freezeOwn(keys: string | readonly string[] | null, strict: boolean): void {
    const local = keys ?? treeFlatten(this.filterAndMap((m, k, v) => !(v instanceof Module) && Module.validParameterFilter(m, k, v))).map(([k]) => k);
    for (const k of this.validateKeys('freeze', local, strict)) this._noGrad.add(k);
  }

  /** Unfreezes this module's own parameters (all, or `keys`); unfreeze() calls it on each module. */
  protected unfreezeOwn(keys: string | readonly string[] | null, strict: boolean): void {
    if (keys === null) this._noGrad.clear();
    else for (const k of this.validateKeys('unfreeze', keys, strict)) this._noGrad.delete(k);
  }

  /**
   * Freezes parameters: they are left out of trainableParameters() and so get no
   * gradients. `freeze({ keys: 'bias' })` freezes every bias. Idempotent.
   */
  freeze({ recurse = true, keys = null, strict = false }: FreezeOptions = {}): this {
    if (recurse) this.applyToModules((_k, m) => m.freezeOwn(keys, strict));
    else this.freezeOwn(keys, strict);
    return this;
  }

  /** Unfreezes parameters (all, or `keys`). Idempotent. */
  unfreeze({ recurse = true, keys = null, strict = false }: FreezeOptions = {}): this {
    if (recurse) this.applyToModules((_k, m) => m.unfreezeOwn(keys, strict));
    else this.unfreezeOwn(keys, strict);
    return this;
  }

  /** Sets training mode on this module and all submodules. */
  train(mode = true): this {
    this.applyToModules((_k, m) => { m._training = mode; });
    return this;
  }

  /** Evaluation mode: `train(false)`. */
  eval(): this { return this.train(false); }

  /**
   * Casts parameters to `dtype`. By default only floating-point ones (integer indices and
   * quantized weights keep theirs); pass a predicate on the dtype, or null to cast all.
   */
  setDtype(dtype: DTypeLike, predicate: ((d: DType) => boolean) | null = (d) => d.isFloat): this {
    const dt = toDtype(dtype, 'Module.setDtype');
    const pred = predicate ?? (() => true);
    return this.apply((x) => (pred(x.dtype) ? astype(x, dt) : x));
  }

  /**
   * Loads weights from [key, array] pairs (or an object of them), or from a `.safetensors`
   * / `.npz` file. Strict (the default) checks that the keys and shapes match the model's
   * parameters exactly, and reports every missing, unexpected and mis-shaped key at once.
   * Not strict: loads only the keys the model has, and does not check shapes.
   */
  loadWeights(fileOrWeights: string | Iterable<readonly [string, Array]> | { readonly [key: string]: Array }, strict = true): this {
    const source = typeof fileOrWeights === 'string' ? `'${fileOrWeights}'` : 'the given weights';
    const weights: [string, Array][] = typeof fileOrWeights === 'string'
      ? readWeightsFile(fileOrWeights)
      : Symbol.iterator in fileOrWeights
        ? [...(fileOrWeights as Iterable<readonly [string, Array]>)].map(([k, v]) => [k, v])
        : Object.entries(fileOrWeights);
    if (strict) this.checkWeights(weights, source);
    if (weights.length) this.update(treeUnflatten(weights) as object, false);
    return this;
  }

  private checkWeights(weights: [string, Array][], source: string): void {
    const given = new Map(weights);
    const current = new Map(treeFlatten<Array>(this.parameters()));
    const extra = [...given.keys()].filter((k) => !current.has(k)).sort();
    const missing = [...current.keys()].filter((k) => !given.has(k)).sort();
    const wrong: string[] = [];
    for (const [k, cur] of current) {
      const v = given.get(k);
      if (v === undefined) continue;
      if (!(v instanceof Array)) wrong.push(`${k}: expected an array, got ${typeName(v)}`);
      else if (v.shape.length !== cur.shape.length || v.shape.some((d, i) => d !== cur.shape[i])) wrong.push(`${k}: expected shape ${fmtShape(cur.shape)}, got ${fmtShape(v.shape)}`);
    }
    if (!extra.length && !missing.length && !wrong.length) return;
    const lines = [`[Module.loadWeights] ${source} do not match the parameters of ${this.constructor.name}:`];
    if (missing.length) lines.push(`  ${missing.length} missing: ${missing.join(', ')}`);
    if (extra.length) lines.push(`  ${extra.length} not in the model: ${extra.join(', ')}`);
    if (wrong.length) lines.push(`  ${wrong.length} with the wrong shape or type:`, ...wrong.map((w) => `    ${w}`));
    lines.push('  (pass strict = false to load only the matching keys)');
    throw new Error(lines.join('\n'));
  }

  /** Saves the parameters to a `.safetensors` or `.npz` file, keyed by dotted names. */
  saveWeights(file: string): void {
    writeWeightsFile(file, Object.fromEntries(treeFlatten<Array>(this.parameters())));
  }

  /** Shown in toString() between the parentheses (`Linear(inputDims=4, ...)`). */
  protected extraRepr(): string { return ''; }

  toString(): string {
    const kids = treeFlatten<Module>(this.children(), '', Module.isModule);
    let s = `${this.constructor.name}(${this.extraRepr()}`;
    for (const [k, m] of kids) s += `\n  (${k}): ${m.toString().split('\n').join('\n  ')}`;
    return s + (kids.length ? '\n)' : ')');
  }
  [Symbol.for('nodejs.util.inspect.custom')](): string { return this.toString(); }
}

/**
 * A list meant for an object with keys '0', '1'... (treeUnflatten makes lists of integer
 * keys) becomes that object, so weights for `experts: { '0': m, '1': m }` still load.
 */
function listAsObject(dst: unknown, src: unknown): unknown {
  if (!globalThis.Array.isArray(src) || globalThis.Array.isArray(dst) || !(dst instanceof Module || isPlainObject(dst))) return src;
  return Object.fromEntries(src.map((v, i) => [String(i), v]));
}

function hasEntry(dst: unknown, key: string): boolean {
  if (dst instanceof Module) return dst.has(key);
  return isPlainObject(dst) && Object.hasOwn(dst, key);
}

function describe(dst: unknown): string {
  return dst instanceof Module ? dst.constructor.name : 'the tree';
}

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (v instanceof Array) return `an array of shape ${fmtShape(v.shape)}`;
  if (globalThis.Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return (v as object).constructor?.name ?? 'an object';
  return typeof v;
}

/** Named arrays from a weights file (any format lathe/io's load reads, except a lone .npy array). */
function readWeightsFile(file: string): [string, Array][] {
  const loaded = load(file);
  if (loaded instanceof Array) throw new Error(`[Module.loadWeights] '${file}' holds a single array; weights need names (use .safetensors, .npz or .gguf)`);
  return Object.entries(loaded);
}

function writeWeightsFile(file: string, weights: Record<string, Array>): void {
  if (file.endsWith('.npz')) savez(file, weights);
  else if (file.endsWith('.safetensors')) saveSafetensors(file, weights);
  else throw new Error(`[Module.saveWeights] unsupported file extension for '${file}': use .npz or .safetensors`);
}
