// Group commit for the TenantGate object: calls that arrive while one is pending are decided together in the
// next timer turn, inside one SQLite transaction, so a burst costs one storage commit instead of one per call.
// Decisions stay sequential (exact), and the output gate still holds every response until its commit is done.

export class GroupCommit {
  private queue: Array<() => void> = []
  private isScheduled = false
  private readonly transaction: (run: () => void) => void

  /** `transaction` runs its callback atomically (ctx.storage.transactionSync). */
  constructor(transaction: (run: () => void) => void) {
    this.transaction = transaction
  }

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
    this.transaction(() => {
      for (const job of batch) job()
    })
  }
}
