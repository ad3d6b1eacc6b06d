// A strict parser of Prometheus text exposition format 0.0.4, for tests: every sample belongs to a family
// declared by `# HELP` and `# TYPE` before it, names and label names are valid, label values use only the
// three escapes, histograms have ascending `le` buckets with non-decreasing counts and +Inf equal to _count.
// Throws on anything else.

export type PromSample = { name: string; labels: Record<string, string>; value: number }
export type PromFamily = { name: string; type: string; help: string; samples: PromSample[] }

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped'])

function parseValue(text: string): number {
  if (text === '+Inf') return Infinity
  if (text === '-Inf') return -Infinity
  if (text === 'NaN') return NaN
  if (!/^-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) throw new Error(`bad sample value ${text}`)
  return Number(text)
}

function parseLabels(text: string): Record<string, string> {
  const labels: Record<string, string> = {}
  let i = 0
  while (i < text.length) {
    const eq = text.indexOf('=', i)
    const name = text.slice(i, eq)
    if (eq < 0 || !LABEL_NAME.test(name)) throw new Error(`bad label name in {${text}}`)
    if (text[eq + 1] !== '"') throw new Error(`label value not quoted in {${text}}`)
    let value = ''
    let j = eq + 2
    for (; j < text.length && text[j] !== '"'; j++) {
      if (text[j] === '\\') {
        const next = text[++j]
        if (next === 'n') value += '\n'
        else if (next === '\\' || next === '"') value += next
        else throw new Error(`bad escape \\${next} in {${text}}`)
      } else value += text[j]
    }
    if (j >= text.length) throw new Error(`unterminated label value in {${text}}`)
    if (name in labels) throw new Error(`duplicate label ${name}`)
    labels[name] = value
    i = j + 1
    if (i < text.length) {
      if (text[i] !== ',') throw new Error(`expected , in {${text}}`)
      i++
    }
  }
  return labels
}

function parseSample(line: string): PromSample {
  const brace = line.indexOf('{')
  const space = line.lastIndexOf(' ')
  if (space < 0) throw new Error(`bad sample line ${line}`)
  let name: string
  let labels: Record<string, string> = {}
  if (brace >= 0 && brace < space) {
    const close = line.lastIndexOf('}')
    if (close < brace || close > space) throw new Error(`bad labels in ${line}`)
    name = line.slice(0, brace)
    labels = parseLabels(line.slice(brace + 1, close))
    if (line.slice(close + 1, space) !== '') throw new Error(`junk after labels in ${line}`)
  } else name = line.slice(0, space)
  if (!NAME.test(name)) throw new Error(`bad metric name ${name}`)
  return { name, labels, value: parseValue(line.slice(space + 1)) }
}

function familyName(sample: string, families: Map<string, PromFamily>): PromFamily {
  const direct = families.get(sample)
  if (direct && direct.type !== 'histogram') return direct
  const base = sample.replace(/_(bucket|sum|count)$/, '')
  const family = families.get(base)
  if (!family || (family.type !== 'histogram' && family.name !== sample)) throw new Error(`sample ${sample} has no # TYPE before it`)
  return family
}

function checkHistogram(f: PromFamily): void {
  const groups = new Map<string, PromSample[]>()
  for (const s of f.samples) {
    const { le: _le, ...rest } = s.labels
    const key = JSON.stringify(Object.entries(rest).sort())
    groups.set(key, [...(groups.get(key) ?? []), s])
  }
  for (const samples of groups.values()) {
    const buckets = samples.filter((s) => s.name === `${f.name}_bucket`)
    const count = samples.find((s) => s.name === `${f.name}_count`)
    if (!samples.some((s) => s.name === `${f.name}_sum`) || !count) throw new Error(`${f.name}: missing _sum or _count`)
    let prev = { le: -Infinity, value: 0 }
    for (const b of buckets) {
      const le = parseValue(b.labels.le ?? 'missing')
      if (le <= prev.le || b.value < prev.value) throw new Error(`${f.name}: buckets not ascending/cumulative at le=${b.labels.le}`)
      prev = { le, value: b.value }
    }
    if (prev.le !== Infinity || prev.value !== count.value) throw new Error(`${f.name}: +Inf bucket missing or != _count`)
  }
}

export function parsePrometheusText(text: string): Map<string, PromFamily> {
  const families = new Map<string, PromFamily>()
  const helps = new Map<string, string>()
  for (const line of text.split('\n')) {
    if (line === '') continue
    const meta = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line)
    if (meta) {
      const [, kind, name = '', rest = ''] = meta
      if (!NAME.test(name)) throw new Error(`bad metric name ${name}`)
      if (kind === 'HELP') helps.set(name, rest)
      else {
        if (!TYPES.has(rest)) throw new Error(`bad type ${rest}`)
        if (families.has(name)) throw new Error(`duplicate # TYPE ${name}`)
        families.set(name, { name, type: rest, help: helps.get(name) ?? '', samples: [] })
      }
      continue
    }
    if (line.startsWith('#')) continue
    const sample = parseSample(line)
    familyName(sample.name, families).samples.push(sample)
  }
  for (const f of families.values()) {
    if (!helps.has(f.name)) throw new Error(`${f.name}: no # HELP`)
    if (f.type === 'counter' && !f.name.endsWith('_total')) throw new Error(`counter ${f.name} must end in _total`)
    if (f.type === 'histogram') checkHistogram(f)
  }
  return families
}

/** The value of the one sample named `name` whose labels include `labels` exactly (0 if there is none). */
export function sampleValue(families: Map<string, PromFamily>, name: string, labels: Record<string, string> = {}): number {
  const all = [...families.values()].flatMap((f) => f.samples)
  const match = all.filter(
    (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v) && Object.keys(s.labels).length === Object.keys(labels).length,
  )
  if (match.length > 1) throw new Error(`several samples match ${name} ${JSON.stringify(labels)}`)
  return match[0]?.value ?? 0
}
