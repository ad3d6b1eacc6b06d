// Reads a node's cumulative usage off an SSE event's text, and cuts it out, without parsing the event (the relay,
// sse-relay.ts, parses an event only when this answers null). vLLM writes every chunk as one line with the usage
// last: `data: {"id":…,"choices":[…],"usage":{"prompt_tokens":4,"total_tokens":5,"completion_tokens":1}}`.
// Parsing each event to find it was most of the relay's work per event (npm run bench:profile, issue 18).
//
// Why the cut is safe on the text: an unescaped `"` in JSON text is always a string delimiter, so `"usage":` can
// only be a key (inside a string the quotes are written `\"`). When the first `"usage":` of the event is the
// tail `,"usage":{…}}` and the value is a flat object of numbers, the object holding that key closes at the last
// character of the event's JSON: it is the top-level object. Anything else (the key elsewhere, nested objects,
// several data lines, an error frame) answers null and the relay parses the event as before.

/** The usage objects vLLM writes (fields in its order; prompt_tokens_details is null unless enabled). */
const USAGE_SHAPE = /^\{"prompt_tokens":\d{1,15}(?:,"total_tokens":\d{1,15})?(?:,"completion_tokens":\d{1,15})?(?:,"prompt_tokens_details":null)?\}$/
const DATA_PREFIX = 'data: {'
const USAGE_KEY = '"usage":'
const USAGE_FIELD = ',"usage":{'
const CHOICES_KEY = '"choices":'

export type EventText =
  /** One data line holding no usage and no error: forwarded as the node sent it. */
  | { kind: 'plain' }
  /**
   * One data line ending with the usage field: `usageText` (a valid usage object, see USAGE_SHAPE),
   * `dataWithoutUsage` (the event's JSON without the field), and whether the event carries usage only
   * (`"choices":[]`, the include_usage frame).
   */
  | { kind: 'usage'; usageText: string; dataWithoutUsage: string; isUsageOnly: boolean }

/** What the event's text says without parsing it, or null when only parsing can tell. `event` ends in "\n\n". */
export function readEventText(event: string): EventText | null {
  // one line: `data: {…}` then the blank line, nothing else
  if (!event.startsWith(DATA_PREFIX) || event.indexOf('\n') !== event.length - 2) return null
  const data = event.slice(6, -2)
  if (data.charCodeAt(data.length - 1) !== 125 /* } */ || data.includes('"error"')) return null
  const usageAt = data.indexOf(USAGE_KEY)
  if (usageAt === -1) return { kind: 'plain' }
  const fieldAt = usageAt - 1 // the first "usage": must be the tail field
  if (!data.startsWith(USAGE_FIELD, fieldAt)) return null
  const usageText = data.slice(fieldAt + USAGE_FIELD.length - 1, -1)
  if (!USAGE_SHAPE.test(usageText)) return null
  const choicesAt = data.indexOf(CHOICES_KEY)
  if (choicesAt === -1 || choicesAt > fieldAt || data.lastIndexOf(CHOICES_KEY, fieldAt) !== choicesAt) return null
  const open = choicesAt + CHOICES_KEY.length
  if (data.charCodeAt(open) !== 91 /* [ */) return null
  return { kind: 'usage', usageText, dataWithoutUsage: `${data.slice(0, fieldAt)}}`, isUsageOnly: data.charCodeAt(open + 1) === 93 /* ] */ }
}
