// A first-in first-out queue with O(1) push/shift and indexed reads, for the sliding-window logs of
// admission-ledger.ts (Array.prototype.shift is O(n) on large arrays).

export class Fifo<T> {
  private items: T[] = []
  private head = 0

  get size(): number {
    return this.items.length - this.head
  }

  push(item: T): void {
    this.items.push(item)
  }

  /** The i-th oldest item (0 = oldest). */
  at(i: number): T | undefined {
    return i < 0 ? undefined : this.items[this.head + i]
  }

  first(): T | undefined {
    return this.items[this.head]
  }

  last(): T | undefined {
    return this.size > 0 ? this.items[this.items.length - 1] : undefined
  }

  shift(): T | undefined {
    if (this.size === 0) return undefined
    const item = this.items[this.head++]
    if (this.head >= 1024 && this.head * 2 >= this.items.length) {
      // compact once half the array is dead
      this.items = this.items.slice(this.head)
      this.head = 0
    }
    return item
  }

  *[Symbol.iterator](): IterableIterator<T> {
    for (let i = this.head; i < this.items.length; i++) yield this.items[i] as T
  }
}
