// Structured logs: one JSON object per line, always with the request id when there is one; never a key.
type Fields = Record<string, unknown>
const write = (level: string, msg: string, fields: Fields) =>
  console.log(JSON.stringify({ level, msg, time: new Date().toISOString(), ...fields }))

export const log = {
  info: (msg: string, fields: Fields = {}) => write('info', msg, fields),
  warn: (msg: string, fields: Fields = {}) => write('warn', msg, fields),
  error: (msg: string, fields: Fields = {}) => write('error', msg, fields),
}
