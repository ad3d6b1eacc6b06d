// CPU time of a server's process tree from /proc (Linux): user + system time of a process and of every process
// below it, in microseconds. /proc/<pid>/stat's utime and stime count all the threads of a process (proc(5)), so
// workerd's and Node's worker threads are included; exited children are not (none of the servers here fork).
import { readdirSync, readFileSync } from 'node:fs'

const TICKS_PER_SECOND = 100 // USER_HZ: 100 on every Linux this runs on (getconf CLK_TCK)

type Stat = { pid: number; ppid: number; comm: string; ticks: number }

function statOf(pid: number): Stat | null {
  let text: string
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8')
  } catch {
    return null // gone in the meantime
  }
  // "pid (comm) state ppid ..." : comm may hold spaces and parentheses, so fields are counted from the last ')'.
  const close = text.lastIndexOf(')')
  const fields = text.slice(close + 2).split(' ')
  return { pid, ppid: Number(fields[1]), comm: text.slice(text.indexOf('(') + 1, close), ticks: Number(fields[11]) + Number(fields[12]) }
}

function allStats(): Stat[] {
  const stats: Stat[] = []
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue
    const stat = statOf(Number(name))
    if (stat) stats.push(stat)
  }
  return stats
}

/** Direct children of `pid` whose command name is `comm` (e.g. the workerd processes Miniflare spawned). */
export function childrenNamed(pid: number, comm: string): number[] {
  return allStats()
    .filter((s) => s.ppid === pid && s.comm === comm)
    .map((s) => s.pid)
}

/** CPU microseconds used so far by `root` and its descendants. */
export function treeCpuUs(root: number): number {
  const stats = allStats()
  const tree = new Set([root])
  let grew = true
  while (grew) {
    grew = false
    for (const s of stats) {
      if (!tree.has(s.pid) && tree.has(s.ppid)) {
        tree.add(s.pid)
        grew = true
      }
    }
  }
  let ticks = 0
  for (const s of stats) if (tree.has(s.pid)) ticks += s.ticks
  return (ticks * 1_000_000) / TICKS_PER_SECOND
}

/** Resident memory of one process in bytes (VmRSS of /proc/<pid>/status). */
export function rssBytes(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return match ? Number(match[1]) * 1024 : Number.NaN
}
