// The scenario of node/e2e/clients for mtcute (@mtcute/node 0.30.3, layer 227): see ../doc.go for the steps.
import {
  BaseTelegramClient,
  InputMedia,
  Long,
  MemoryStorage,
  ObfuscatedPacketCodec,
  PaddedIntermediatePacketCodec,
  TcpTransport,
  TelegramClient,
} from '@mtcute/node'
import { addPublicKey } from '@mtcute/node/utils.js'

import { deadline, emit, fileBytes, readConfig, sha256, step, waitFor } from './common.mjs'

const cfg = readConfig()
deadline(cfg)

// transport "obfuscated": obfuscated2 over padded intermediate (mtcute pads with up to 15 bytes); default: its
// plain intermediate TCP.
class ObfuscatedTcp extends TcpTransport {
  packetCodec() {
    return new ObfuscatedPacketCodec(new PaddedIntermediatePacketCodec())
  }
}

const dc = { id: cfg.dc, ipAddress: cfg.host, port: cfg.port }
const opts = {
  apiId: 17349,
  apiHash: '00000000000000000000000000000000',
  storage: new MemoryStorage(), // the SQLite default needs better-sqlite3's native build (installed without scripts)
  defaultDcs: { main: dc, media: dc },
  testMode: false,
  logLevel: Number(process.env.MTCUTE_LOG_LEVEL ?? 1),
}
if (cfg.transport === 'obfuscated') opts.transport = new ObfuscatedTcp() // absent, not undefined: it is spread
// The base client owns the crypto provider the key must be added to; the high-level client wraps it.
const base = new BaseTelegramClient(opts)
addPublicKey(base.crypto, cfg.pem)
const client = new TelegramClient({ client: base })

const pushes = []
let onPush = null
client.onNewMessage.add((m) => {
  if (m.isOutgoing) return
  const x = { id: m.id, text: m.text, fromId: m.sender.id }
  if (onPush) onPush(x)
  else pushes.push(x)
})

try {
  await step('connect', async () => {
    await client.connect()
  })
  await step('getConfig', async () => {
    const c = await client.call({ _: 'help.getConfig' })
    return {
      thisDc: c.thisDc,
      dcOptions: c.dcOptions.filter((o) => o.id === cfg.dc).map((o) => `${o.ipAddress}:${o.port}`),
    }
  })
  const me = await step('signUp', async () => {
    // mtcute's signIn() refuses auth.authorizationSignUpRequired, so the sign-up is two raw calls, and
    // notifyLoggedIn is what signIn() does with an authorization (it also starts the updates loop).
    const sent = await client.sendCode({ phone: cfg.phone })
    if (!sent.phoneCodeHash) throw new Error(`auth.sendCode answered ${sent.constructor?.name}`)
    let res = await client.call({
      _: 'auth.signIn',
      phoneNumber: cfg.phone,
      phoneCodeHash: sent.phoneCodeHash,
      phoneCode: cfg.code,
    })
    let signUpRequired = false
    if (res._ === 'auth.authorizationSignUpRequired') {
      signUpRequired = true
      res = await client.call({
        _: 'auth.signUp',
        phoneNumber: cfg.phone,
        phoneCodeHash: sent.phoneCodeHash,
        firstName: cfg.firstName,
        lastName: cfg.lastName,
      })
    }
    const u = await client.notifyLoggedIn(res)
    return { userId: u.id, self: !!u.self, signUpRequired, firstName: u.firstName }
  })
  await step('getSelf', async () => {
    const u = await client.getMe()
    return { userId: u.id, self: u.isSelf }
  })
  let peer = null
  await step('resolve', async () => {
    const res = await client.importContacts([{ phone: cfg.peerPhone, firstName: 'Peer', lastName: 'Gotd' }])
    const id = res.imported[0]?.userId
    const u = res.users.find((x) => x._ === 'user' && x.id === id)
    if (!u || !u.accessHash) throw new Error(`contacts.importContacts: no imported user with an access hash`)
    peer = { _: 'inputPeerUser', userId: u.id, accessHash: u.accessHash }
    return { userId: u.id, accessHash: true }
  })
  for (const [i, text] of cfg.texts.entries()) {
    await step('send', async () => {
      const m = await client.sendText(peer, text)
      return { i, id: m.id, text: m.text }
    })
  }
  emit('ready', null)
  await step('push', async () => {
    const m = pushes.length > 0 ? pushes.shift() : await waitFor((f) => (onPush = f), cfg.timeoutMs)
    if (m.text !== cfg.pushText) throw new Error(`pushed message ${JSON.stringify(m.text)}, want ${cfg.pushText}`)
    return m
  })
  await step('getDialogs', async () => {
    const res = await client.call({
      _: 'messages.getDialogs',
      offsetDate: 0,
      offsetId: 0,
      offsetPeer: { _: 'inputPeerEmpty' },
      limit: 50,
      hash: Long.ZERO,
    })
    return {
      dialogs: res.dialogs
        .filter((d) => d._ === 'dialog')
        .map((d) => ({ peerId: d.peer._ === 'peerUser' ? d.peer.userId : 0, topMessage: d.topMessage })),
    }
  })
  await step('getHistory', async () => {
    const msgs = await client.getHistory(peer, { limit: 50 })
    return { messages: msgs.map((m) => ({ id: m.id, out: m.isOutgoing, text: m.text, fromId: m.sender.id })) }
  })
  await step('file', async () => {
    // upload.saveFilePart + messages.sendMedia (a document to Saved Messages), then upload.getFile back.
    const data = fileBytes(cfg)
    const msg = await client.sendMedia(
      'me',
      InputMedia.document(data, { fileName: 'scenario.bin', fileMime: 'application/octet-stream' }),
      { caption: 'scenario file' },
    )
    const back = await client.downloadAsBuffer(msg.media)
    return { size: data.length, sentSha: sha256(data), gotSha: sha256(back), text: msg.text }
  })
  await step('photo', async () => {
    const data = Buffer.from(cfg.photo, 'base64')
    const msg = await client.sendMedia('me', InputMedia.photo(data, { fileName: 'scenario.jpg' }))
    const back = await client.downloadAsBuffer(msg.media)
    return { w: msg.media.width, h: msg.media.height, sentSha: sha256(data), gotSha: sha256(back) }
  })
  emit('done', null)
  await client.destroy()
  process.exit(0)
} catch {
  await client.destroy().catch(() => {})
  process.exit(1)
}
