// Test helpers for talking to a running stand-in over real TCP: JSON POSTs and an SSE frame parser.
// Used by the *.test.ts files in this folder; usable by gateway tests too.

export type SseEvent = { data: string; json: unknown }

export function postJson(baseUrl: string, path: string, body: unknown, headers: Record<string, string> = {}, signal?: AbortSignal): Promise<Response> {
  return fetch(baseUrl + path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
    signal,
  })
}

/** Splits an SSE body into its `data:` payloads; `json` is the parsed payload, or undefined for `[DONE]`. */
export function parseSse(text: string): SseEvent[] {
  const events: SseEvent[] = []
  for (const block of text.split('\n\n')) {
    if (block.trim() === '') continue
    const data = block
      .split('\n')
      .filter((line) => line.startsWith('data: '))
      .map((line) => line.slice('data: '.length))
      .join('\n')
    events.push({ data, json: data === '[DONE]' ? undefined : JSON.parse(data) })
  }
  return events
}

/** Reads the stream until `count` complete SSE frames arrived; returns them and the reader (still open). */
export async function readFrames(res: Response, count: number): Promise<{ frames: SseEvent[]; reader: ReadableStreamDefaultReader<Uint8Array> }> {
  if (!res.body) throw new Error('response has no body')
  const reader = res.body.getReader()
  const decoder = new TextDecoder()
  let text = ''
  while (text.split('\n\n').length - 1 < count) {
    const { done, value } = await reader.read()
    if (done) break
    text += decoder.decode(value, { stream: true })
  }
  const complete = text.slice(0, text.lastIndexOf('\n\n') + 2)
  return { frames: parseSse(complete), reader }
}
