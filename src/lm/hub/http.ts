// HTTP for the Hub with Node's built-in fetch: a timeout that also covers stalls in a body,
// redirects followed by hand (so Authorization is dropped when the host changes, as
// huggingface_hub does for CDN links), and retries with backoff for what may pass
// (connection errors, timeouts, 429, 5xx).

/** A failure to talk to a server at all (no answer, dropped connection, stall); worth a retry. */
export class NetworkError extends Error {
  constructor(message: string, readonly code: string) { super(message); }
}

/** An HTTP answer worth retrying (429, 5xx). */
export class RetryableStatus extends Error {
  constructor(readonly res: Response, readonly url: string) { super(`HTTP ${res.status} from ${url}`); }
}

const NETWORK_WORDS: Record<string, string> = {
  ENOTFOUND: 'host not found', EAI_AGAIN: 'DNS lookup failed', ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset', EPIPE: 'connection closed', ETIMEDOUT: 'timed out', EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable', UND_ERR_SOCKET: 'connection closed by the server',
  UND_ERR_CONNECT_TIMEOUT: 'connect timed out', UND_ERR_HEADERS_TIMEOUT: 'no answer (headers timed out)',
  UND_ERR_BODY_TIMEOUT: 'body timed out',
};

/** The NetworkError for what fetch or a body stream threw (undici puts the cause in `cause`). */
export function networkError(e: unknown, url: string): NetworkError {
  if (e instanceof NetworkError) return e;
  const err = e as Error & { code?: string; cause?: Error & { code?: string } };
  const code = err.cause?.code ?? err.code ?? 'EUNKNOWN';
  const what = NETWORK_WORDS[code] ?? err.cause?.message ?? err.message;
  return new NetworkError(`${what} (${code}) while fetching ${url}`, code);
}

export interface OpenOptions {
  method?: 'GET' | 'HEAD';
  headers: Record<string, string>;
  timeoutMs: number;
  /** Follow redirects to other hosts (GET of a file); false stops at the first one (HEAD for metadata). */
  followCrossHost: boolean;
}

export interface Opened {
  res: Response;
  /** The URL that answered (after redirects). */
  url: string;
  /** The headers that were sent to it (Authorization gone if the host changed). */
  headers: Record<string, string>;
  /** Re-arms the stall timer; call on each chunk of the body. */
  touch(): void;
  /** Stops the timer (and aborts the body if it is still open). */
  close(): void;
}

const withoutAuth = (h: Record<string, string>) => Object.fromEntries(Object.entries(h).filter(([k]) => k.toLowerCase() !== 'authorization'));

/**
 * Opens `url`, following up to 10 redirects by hand. A redirect to another host (a CDN) is
 * followed only with `followCrossHost`, and without the Authorization header. Throws
 * NetworkError when no answer came, RetryableStatus for 429/5xx; other statuses are returned.
 */
export async function openUrl(url: string, o: OpenOptions): Promise<Opened> {
  let headers = o.headers;
  for (let hops = 0; ; hops++) {
    const ctl = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const touch = () => {
      clearTimeout(timer);
      timer = setTimeout(() => ctl.abort(new NetworkError(`no data for ${o.timeoutMs / 1000} s (HF_HUB_DOWNLOAD_TIMEOUT) from ${url}`, 'ETIMEDOUT')), o.timeoutMs);
    };
    const close = () => { clearTimeout(timer); if (!ctl.signal.aborted) ctl.abort(new NetworkError('closed', 'ECLOSED')); };
    touch();
    let res: Response;
    try {
      res = await fetch(url, { method: o.method ?? 'GET', headers, redirect: 'manual', signal: ctl.signal });
    } catch (e) {
      clearTimeout(timer);
      throw networkError(ctl.signal.reason instanceof NetworkError ? ctl.signal.reason : e, url);
    }
    touch(); // the headers came: the stall timer now covers the body
    const location = res.headers.get('location');
    if (res.status >= 300 && res.status < 400 && location && hops < 10) {
      const next = new URL(location, url);
      const crossHost = next.host !== new URL(url).host;
      if (!crossHost || o.followCrossHost) {
        close();
        if (crossHost) headers = withoutAuth(headers);
        url = next.href;
        continue;
      }
    }
    if (res.status === 429 || res.status >= 500) { close(); throw new RetryableStatus(res, url); }
    return { res, url, headers, touch, close };
  }
}

export interface RetryOptions {
  /** Tries after the first (default 5). */
  retries?: number;
  /** First wait in ms, doubled each time up to 8 s (default 500). */
  baseDelayMs?: number;
  /** Told of each failure that will be retried. */
  onRetry?: (error: Error, attempt: number, delayMs: number) => void;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Runs `fn` again after NetworkError or RetryableStatus, with exponential backoff. */
export async function withRetries<T>(fn: () => Promise<T>, o: RetryOptions = {}): Promise<T> {
  const retries = o.retries ?? 5, base = o.baseDelayMs ?? 500;
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (e) {
      if (!(e instanceof NetworkError || e instanceof RetryableStatus) || attempt >= retries) throw e;
      const delay = Math.min(base * 2 ** attempt, 8000);
      o.onRetry?.(e, attempt + 1, delay);
      await sleep(delay);
    }
  }
}
