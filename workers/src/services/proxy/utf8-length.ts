/** UTF-8 length of a string without encoding it (the gateway's own token count runs on every generated piece). */
export function utf8Length(text: string): number {
  let bytes = 0
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i)
    if (code < 0x80) bytes += 1
    else if (code < 0x800) bytes += 2
    else if (code >= 0xd800 && code <= 0xdbff) { bytes += 4; i++ } // a surrogate pair: one 4-byte code point
    else bytes += 3
  }
  return bytes
}
