import { describe, expect, it } from 'vitest'
import { readEventText } from './sse-usage-tail.ts'

const usage = '{"prompt_tokens":4,"total_tokens":6,"completion_tokens":2}'
const head = '{"id":"c1","object":"chat.completion.chunk","created":1,"model":"m"'
const token = (content: string) => `${head},"choices":[{"index":0,"delta":{"content":${JSON.stringify(content)}},"logprobs":null,"finish_reason":null}]`
const event = (data: string) => `data: ${data}\n\n`

describe('readEventText', () => {
  it('reads and cuts the usage vLLM puts last, leaving the rest of the event as sent', () => {
    const read = readEventText(event(`${token('hi "usage":{} }')},"usage":${usage}}`))
    expect(read).toEqual({ kind: 'usage', usageText: usage, dataWithoutUsage: `${token('hi "usage":{} }')}}`, isUsageOnly: false })
    if (read?.kind !== 'usage') throw new Error('unreachable')
    expect(JSON.parse(read.dataWithoutUsage)).toEqual(JSON.parse(`${token('hi "usage":{} }')}}`)) // still JSON
  })

  it('tells the usage-only frame (include_usage) by its empty choices', () => {
    expect(readEventText(event(`${head},"choices":[],"usage":${usage}}`))).toMatchObject({ kind: 'usage', isUsageOnly: true })
  })

  it('accepts the prompt_tokens_details vLLM adds when enabled, and events without usage', () => {
    const details = '{"prompt_tokens":4,"total_tokens":6,"completion_tokens":2,"prompt_tokens_details":null}'
    expect(readEventText(event(`${token('x')},"usage":${details}}`))).toMatchObject({ kind: 'usage', usageText: details })
    expect(readEventText(event(`${token('x')}}`))).toEqual({ kind: 'plain' })
  })

  it.each([
    ['usage first', `{"usage":${usage},"choices":[{"delta":{"content":"x"}}]}`],
    ['usage nested as well', `{"choices":[{"delta":{"content":"x"},"extra":{"usage":${usage}}}],"usage":${usage}}`],
    ['a usage object of another shape', `${token('x')},"usage":{"prompt_tokens":-4,"completion_tokens":2}}`],
    ['a null completion count', `${token('x')},"usage":{"prompt_tokens":4,"total_tokens":4,"completion_tokens":null}}`],
    ['an error frame', `{"error":{"message":"engine dead","code":500},"usage":${usage}}`],
    ['an error frame without usage', '{"error":{"message":"engine dead","code":500}}'],
    ['no choices key', `{"id":"c1","usage":${usage}}`],
    ['two choices keys', `{"choices":[],"x":{"choices":[]},"usage":${usage}}`],
  ])('leaves the event to the parser when it holds %s', (_, data) => {
    expect(readEventText(event(data))).toBeNull()
  })

  it.each([
    ['data split over two lines', `data: ${token('x')},\ndata: "usage":${usage}}\n\n`],
    ['no space after data:', `data:${token('x')},"usage":${usage}}\n\n`],
    ['a comment line', `: keep-alive\n\n`],
    ['an event field', `event: message\ndata: ${token('x')},"usage":${usage}}\n\n`],
    ['[DONE]', 'data: [DONE]\n\n'],
  ])('leaves %s to the parser', (_, text) => {
    expect(readEventText(text)).toBeNull()
  })
})
