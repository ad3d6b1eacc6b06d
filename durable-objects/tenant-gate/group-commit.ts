// Group commit for the TenantGate object: calls that arrive while one is pending are decided together in the
// next timer turn, so a burst costs one storage commit instead of one per call. No explicit transaction is
// needed: the runtime commits every write of one synchronous turn atomically, and holds each response (the
// output gate) until that commit is done. Decisions stay sequential, so they stay exact.

export class GroupCommit {
  private queue: Array<() => void> = []
  private isScheduled = false

  /** Runs `work` in the next batch and resolves with its result; a throw rejects only this call. */
  run<T>(work: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push(() => {
        try {
          resolve(work())
        } catch (err) {
          reject(err)
        }
      })
      if (this.isScheduled) return
      this.isScheduled = true
      // A timer, not a microtask: other RPCs already delivered to the object get to join the batch first.
      setTimeout(() => this.flush(), 0)
    })
  }

  private flush(): void {
    this.isScheduled = false
    const batch = this.queue
    this.queue = []
    for (const job of batch) job() // one synchronous turn: one commit
  }
}
