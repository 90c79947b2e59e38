// Sharded safetensors checkpoints (Hugging Face layout): a folder of `*.safetensors` files,
// usually with `model.safetensors.index.json` mapping each tensor to its shard.
import { readFileSync, readdirSync, statSync, existsSync } from 'node:fs';
import { join, dirname, basename } from 'node:path';
import type { Array } from '../core/array.js';
import { ioError } from './file.js';
import { lazyRecord, setOwn } from './lazy.js';
import { loadSafetensors, SafetensorsFile, TensorInfo, LoadOptions } from './safetensors.js';

const INDEX = 'model.safetensors.index.json';

/**
 * Loads every tensor of a sharded checkpoint, lazily. `path` is a folder (with or without
 * `model.safetensors.index.json`: without one, every `*.safetensors` file in it is a shard)
 * or the path of an index file. With an index, each tensor must be in the shard it names.
 * `metadata` merges the shards' metadata.
 */
export function loadSafetensorsDir(path: string, opts: LoadOptions = {}): SafetensorsFile {
  const where = 'loadSafetensorsDir';
  let dir = path;
  let indexPath: string | null = null;
  let isDir = false;
  try { isDir = statSync(path).isDirectory(); } catch (e) { ioError(where, path, `cannot open: ${(e as Error).message}`); }
  if (!isDir) { indexPath = path; dir = dirname(path); }
  else if (existsSync(join(dir, INDEX))) indexPath = join(dir, INDEX);
  else {
    const indexes = readdirSync(dir).filter((f) => f.endsWith('.safetensors.index.json'));
    if (indexes.length === 1) indexPath = join(dir, indexes[0]);
  }

  let weightMap: Record<string, string> | null = null;
  let shardNames: string[];
  if (indexPath) {
    weightMap = readIndex(indexPath, where);
    shardNames = [...new Set(Object.values(weightMap))].sort();
  } else {
    shardNames = readdirSync(dir).filter((f) => f.endsWith('.safetensors')).sort();
    if (!shardNames.length) ioError(where, path, 'no *.safetensors files and no model.safetensors.index.json here');
  }

  const shards = new Map<string, SafetensorsFile>();
  for (const s of shardNames) shards.set(s, loadSafetensors(join(dir, s), opts));

  // Which shard holds each tensor: the index's word, else the one shard that has it.
  const owner = new Map<string, string>();
  if (weightMap) {
    const missing = Object.entries(weightMap).filter(([name, s]) => !Object.hasOwn(shards.get(s)!.info, name));
    if (missing.length)
      ioError(where, indexPath!, `${missing.length} tensor(s) are not in the shard the index names: ${missing.slice(0, 10).map(([n, s]) => `'${n}' (${s})`).join(', ')}${missing.length > 10 ? ', ...' : ''}`);
    for (const [name, s] of Object.entries(weightMap)) owner.set(name, s);
  } else {
    for (const [s, f] of shards) {
      for (const name of Object.keys(f.info)) {
        const prev = owner.get(name);
        if (prev !== undefined) ioError(where, path, `tensor '${name}' is in two shards: ${prev} and ${s}`);
        owner.set(name, s);
      }
    }
  }

  const info: Record<string, TensorInfo> = {};
  for (const [name, s] of owner) setOwn(info, name, shards.get(s)!.info[name]);
  const tensors: Record<string, Array> = lazyRecord(owner.keys(), (name) => shards.get(owner.get(name)!)!.tensors[name]);
  const metadata: Record<string, string> = {};
  for (const f of shards.values()) Object.assign(metadata, f.metadata);
  return { tensors, metadata, info };
}

function readIndex(path: string, where: string): Record<string, string> {
  let index: unknown;
  try { index = JSON.parse(readFileSync(path, 'utf8')); } catch (e) { ioError(where, path, `cannot read the index: ${(e as Error).message}`); }
  const map = (index as { weight_map?: unknown } | null)?.weight_map;
  if (map === null || typeof map !== 'object' || globalThis.Array.isArray(map)) ioError(where, path, 'the index has no "weight_map" object');
  for (const [k, v] of Object.entries(map as object)) {
    if (typeof v !== 'string' || basename(v) !== v) ioError(where, path, `weight_map '${k}' is ${JSON.stringify(v)}; expected a shard file name`);
  }
  return map as Record<string, string>;
}
