// lathe's OpenAI-compatible server: `serve({ model: 'models/tiny-llama', port: 8080 })`, or
// `lathe serve`. See docs/server.md.
import { load } from '../load-with-tokenizer.js';
import { LatheServer, modelIdFor, type LoadedModel, type ServerOptions } from './http.js';

export interface ServeOptions extends Omit<ServerOptions, 'model'> {
  /** A model folder, or a model already loaded ({ model, tokenizer }). */
  model: string | LoadedModel;
  /** LoRA adapters: not supported yet (an error says so). */
  adapter?: string | null;
  /** Default '127.0.0.1'. */
  host?: string;
  /** Default 8080; 0 picks a free port (see `server.url`). */
  port?: number;
}

/** A server for a model, not yet listening (call `listen(port, host)`). A folder is loaded here. */
export function createServer(options: ServeOptions): LatheServer {
  const { model, adapter, host: _host, port: _port, ...rest } = options;
  if (adapter) throw new Error(`[serve] LoRA adapters are not supported yet (got adapter '${adapter}'); serve the model without --adapter`);
  if (typeof model === 'string') {
    const loaded = load(model);
    return new LatheServer(loaded, { modelId: modelIdFor(model), modelAliases: [model], ...rest });
  }
  return new LatheServer(model, rest);
}

/** Loads the model, starts the server and resolves once it listens: `const s = await serve({ model: dir, port: 0 }); s.url`. */
export async function serve(options: ServeOptions): Promise<LatheServer> {
  const server = createServer(options);
  await server.listen(options.port ?? 8080, options.host ?? '127.0.0.1');
  return server;
}

export { LatheServer, type LoadedModel, type ServerOptions } from './http.js';
export { Engine, EngineError, JobHandle, type EngineOptions, type EngineStats, type GenerationJob, type JobEvent, type SequenceParams, type RowConstraint, type TokenInfo } from './engine.js';
export { BatchCache } from './batch-cache.js';
export { ApiError } from './errors.js';
