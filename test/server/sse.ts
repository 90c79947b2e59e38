// A streaming response read as server-sent events (`data: <json>` events, `data: [DONE]` last),
// event by event as they arrive: the load test's client process and bench/gpu/server.ts.

/** The data of each event of `res`'s body; throws on a line that is not `data: ` or a stream that ends inside an event. */
export async function* sseData(res: Response): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const bytes of res.body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(bytes, { stream: true });
    let end: number;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const event = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      if (!event.startsWith('data: ')) throw new Error(`not an SSE data line: ${event}`);
      yield event.slice(6);
    }
  }
  if (buffer !== '') throw new Error(`the stream ended inside an event: ${buffer}`);
}
