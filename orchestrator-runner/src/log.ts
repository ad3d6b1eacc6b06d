// Structured logs for the runner: one JSON object per line on stdout (errors on stderr). Never log secrets.
type Fields = Record<string, unknown>
const write = (level: string, msg: string, fields: Fields) => {
  const line = JSON.stringify({ level, msg, time: new Date().toISOString(), ...fields })
  if (level === 'error') console.error(line)
  else console.log(line)
}

export type Logger = { info(msg: string, fields?: Fields): void; warn(msg: string, fields?: Fields): void; error(msg: string, fields?: Fields): void }

export const log: Logger = {
  info: (msg, fields = {}) => write('info', msg, fields),
  warn: (msg, fields = {}) => write('warn', msg, fields),
  error: (msg, fields = {}) => write('error', msg, fields),
}

export const silentLog: Logger = { info() {}, warn() {}, error() {} }
