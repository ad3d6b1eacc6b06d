// `npm run load`: the open-loop load test (flags in options.ts). Wires the target, the run and the report;
// exits 0 when the ledger and limit checks pass, 1 when one fails, 2 on a usage error.
import { HelpRequested, parseOptions, USAGE, type LoadOptions } from './options.ts'
import { prepareTarget } from './prepare-target.ts'
import { formatReport } from './report.ts'
import { runLoadTest } from './run-load.ts'

let options: LoadOptions
try {
  options = parseOptions(process.argv.slice(2))
} catch (err) {
  if (err instanceof HelpRequested) {
    console.log(USAGE)
    process.exit(0)
  }
  console.error(`${err instanceof Error ? err.message : String(err)}\n\n${USAGE}`)
  process.exit(2)
}

// Progress goes to stderr, so --json leaves stdout to the report alone.
const log = (line: string) => console.error(`[load] ${line}`)
const prepared = await prepareTarget(options, log)
// Ctrl+C mid-run: stop the local stack and remove its state, as a normal end does.
process.once('SIGINT', () => {
  void prepared.close().finally(() => process.exit(130))
})
let exitCode = 1
try {
  log(`sending ${options.ratePerSecond} req/s for ${options.durationMs / 1000} s to ${prepared.url}…`)
  const report = await runLoadTest({ ...options, url: prepared.url, admin: prepared.admin, target: prepared.target })
  console.log(options.json ? JSON.stringify(report, null, 2) : formatReport(report))
  exitCode = report.ok ? 0 : 1
} finally {
  await prepared.close()
}
process.exit(exitCode)
