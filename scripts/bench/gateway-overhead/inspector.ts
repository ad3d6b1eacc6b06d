// A minimal Chrome DevTools Protocol client for workerd's V8 inspector (Miniflare's `inspectorPort`): the gateway's
// isolate is the target whose title names the Worker. Used by bench:profile (CPU profile) and by the bench's memory
// part (the isolate's live JS heap, after a full garbage collection).

export type Inspector = { send(method: string, params?: object): Promise<unknown>; close(): void }

export async function connectInspector(port: number, workerName = 'cic-gateway'): Promise<Inspector> {
  const targets = (await (await fetch(`http://127.0.0.1:${port}/json`)).json()) as { title: string; webSocketDebuggerUrl: string }[]
  const target = targets.find((t) => t.title.includes(workerName)) ?? targets[0]
  if (!target) throw new Error('no inspector target')
  const ws = new WebSocket(target.webSocketDebuggerUrl)
  await new Promise((resolve, reject) => {
    ws.onopen = resolve
    ws.onerror = reject
  })
  let nextId = 1
  const pending = new Map<number, (result: unknown) => void>()
  ws.onmessage = (m) => {
    const msg = JSON.parse(String(m.data)) as { id?: number; result?: unknown }
    if (msg.id !== undefined) pending.get(msg.id)?.(msg.result)
  }
  return {
    send: (method, params = {}) =>
      new Promise<unknown>((resolve) => {
        const id = nextId++
        pending.set(id, resolve)
        ws.send(JSON.stringify({ id, method, params }))
      }),
    close: () => ws.close(),
  }
}

/** The isolate's live JS heap in bytes: a full collection first, so garbage does not count. */
export async function liveHeapBytes(inspector: Inspector): Promise<number> {
  await inspector.send('HeapProfiler.collectGarbage')
  const usage = (await inspector.send('Runtime.getHeapUsage')) as { usedSize: number }
  return usage.usedSize
}
