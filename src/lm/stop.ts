// Stop strings over streamed text: text that could be the start of a stop string is held
// back until it is known not to be one, so a stop string is never emitted, even in part.

export class StopStringMatcher {
  private held = '';

  constructor(private readonly stops: readonly string[]) {
    for (const s of stops) if (typeof s !== 'string' || s.length === 0) throw new Error(`[streamGenerate] stop strings must be non-empty strings, got ${JSON.stringify(s)}`);
  }

  /** Adds a segment; returns the text that is safe to emit, cut before a stop string if one completed. */
  push(segment: string): { text: string; stopped: boolean } {
    if (this.stops.length === 0) return { text: segment, stopped: false };
    this.held += segment;
    const at = this.firstStop();
    if (at >= 0) {
      const text = this.held.slice(0, at);
      this.held = '';
      return { text, stopped: true };
    }
    const keep = this.longestPartialStop();
    const text = this.held.slice(0, this.held.length - keep);
    this.held = this.held.slice(this.held.length - keep);
    return { text, stopped: false };
  }

  /** The end of the stream: everything held (cut before a stop string, if one completed). */
  flush(segment: string): { text: string; stopped: boolean } {
    const r = this.push(segment);
    if (r.stopped) return r;
    const text = r.text + this.held;
    this.held = '';
    return { text, stopped: false };
  }

  private firstStop(): number {
    let best = -1;
    for (const s of this.stops) {
      const i = this.held.indexOf(s);
      if (i >= 0 && (best < 0 || i < best)) best = i;
    }
    return best;
  }

  // The longest end of the held text that some stop string starts with.
  private longestPartialStop(): number {
    let keep = 0;
    for (const s of this.stops)
      for (let k = Math.min(s.length - 1, this.held.length); k > keep; k--)
        if (this.held.endsWith(s.slice(0, k))) { keep = k; break; }
    return keep;
  }
}
