// Shared by the client scenarios: the config the Go test passes (argv[2], JSON) and the one-JSON-line-per-step
// output it parses. Lines that are not a JSON object with a "step" are library logs to the test.
import { createHash } from 'node:crypto'

// fileBytes is the file the "file" step uploads: cfg.fileSize (default 300 KiB) pseudo-random bytes, so that
// several parts are sent and a wrong byte anywhere changes the hash.
export function fileBytes(cfg) {
  const n = cfg.fileSize || 300 * 1024
  const b = Buffer.alloc(n)
  let x = 2463534242
  for (let i = 0; i < n; i++) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    b[i] = x & 0xff
  }
  return b
}

export function sha256(b) {
  return createHash('sha256').update(b).digest('hex')
}

export function readConfig() {
  if (process.argv.length !== 3) {
    process.stderr.write('usage: node SCRIPT CONFIG_JSON\n')
    process.exit(2)
  }
  const cfg = JSON.parse(process.argv[2])
  cfg.timeoutMs ||= 60000
  return cfg
}

// emit prints {"step", "ok", "error"?, ...fields}; bigints become decimal strings.
export function emit(step, err, fields = {}) {
  const line = { step, ok: !err, ...fields }
  if (err) line.error = describe(err)
  process.stdout.write(JSON.stringify(line, (_, v) => (typeof v === 'bigint' ? v.toString() : v)) + '\n')
}

function describe(err) {
  if (err && typeof err === 'object') {
    // RPC errors of both libraries carry code + text/errorMessage; TL decode errors carry the ctor in the message.
    const parts = []
    if (err.code !== undefined) parts.push(String(err.code))
    if (err.text) parts.push(err.text)
    else if (err.errorMessage) parts.push(err.errorMessage)
    parts.push(String(err.message ?? err))
    return parts.join(' ')
  }
  return String(err)
}

let current = 'start'

// step runs fn and emits its result (fields from the returned object); a failure is emitted and rethrown.
export async function step(name, fn) {
  current = name
  try {
    const fields = await fn()
    emit(name, null, fields ?? {})
    return fields
  } catch (e) {
    emit(name, e)
    throw e
  }
}

// deadline ends the process (after emitting the step that hangs) when the scenario takes too long.
export function deadline(cfg) {
  const t = setTimeout(() => {
    emit(current, new Error(`timeout after ${cfg.timeoutMs} ms`))
    process.exit(1)
  }, cfg.timeoutMs)
  t.unref()
}

// waitFor resolves with the first value a registration callback passes to push, or rejects after ms.
export function waitFor(register, ms) {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`nothing after ${ms} ms`)), ms)
    register((v) => {
      clearTimeout(t)
      resolve(v)
    })
  })
}
