// Reads a whole SSE response body into its `data:` payloads, in order.
export async function readSse(res: Response): Promise<string[]> {
  const text = await res.text()
  return text
    .split('\n\n')
    .filter((e) => e.trim())
    .map((e) =>
      e
        .split('\n')
        .filter((l) => l.startsWith('data:'))
        .map((l) => l.slice(l[5] === ' ' ? 6 : 5))
        .join('\n'),
    )
}

// biome-ignore lint/suspicious/noExplicitAny: a test reads loose JSON by path; its assertions check the shapes
export const jsonEvents = (events: string[]) => events.filter((e) => e !== '[DONE]').map((e) => JSON.parse(e) as Record<string, any>)
