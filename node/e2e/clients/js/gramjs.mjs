// The scenario of node/e2e/clients for GramJS (npm telegram 2.26.22, layer 198): see ../doc.go for the steps.
import { createRequire } from 'node:module'

import { deadline, emit, fileBytes, readConfig, sha256, step, waitFor } from './common.mjs'

const require = createRequire(import.meta.url)
const { Api, TelegramClient } = require('telegram')
const { MemorySession } = require('telegram/sessions')
const { ConnectionTCPFull, ConnectionTCPObfuscated } = require('telegram/network')
const { NewMessage } = require('telegram/events')
const { CustomFile } = require('telegram/client/uploads')
const RSA = require('telegram/crypto/RSA')
const bigInt = require('big-integer')

const cfg = readConfig()
deadline(cfg)

// GramJS knows only Telegram's keys: ours goes into its table, keyed by the signed fingerprint.
RSA._serverKeys.set(cfg.fingerprint, { n: bigInt(cfg.n), e: cfg.e })

// GramJS's connect() dials port 80/443 whatever the session says: pin every connection to our node. Transport
// "obfuscated": obfuscated2 over abridged; default: full (its default on Node.js).
class PinnedConnection extends (cfg.transport === 'obfuscated' ? ConnectionTCPObfuscated : ConnectionTCPFull) {
  constructor(opts) {
    super({ ...opts, ip: cfg.host, port: cfg.port })
  }
}

// Not StringSession: its save() writes the port as an int16 and throws for ports above 32767 (ours are ephemeral).
const session = new MemorySession()
session.setDC(cfg.dc, cfg.host, cfg.port)
const client = new TelegramClient(session, 17349, '00000000000000000000000000000000', {
  connection: PinnedConnection,
  // GramJS's default. Not 1: about one key exchange in 256 fails on its side (it drops the auth key's leading
  // zero bytes; see ../doc.go) and a new attempt is how it recovers, against Telegram as here.
  connectionRetries: 5,
  autoReconnect: false,
})
client.setLogLevel(process.env.GRAMJS_LOG_LEVEL ?? 'error')

const num = (x) => Number(x?.toString())
const pushes = []
let onPush = null
client.addEventHandler(
  (ev) => {
    const m = ev.message
    const x = { id: m.id, text: m.message, fromId: num(m.senderId) }
    if (onPush) onPush(x)
    else pushes.push(x)
  },
  new NewMessage({ incoming: true }),
)

try {
  await step('connect', async () => {
    // connect() reports a failed key exchange or dial by returning false (the reason is in the library log).
    if (!(await client.connect())) throw new Error('client.connect() failed')
  })
  await step('getConfig', async () => {
    const c = await client.invoke(new Api.help.GetConfig())
    return {
      thisDc: c.thisDc,
      dcOptions: c.dcOptions.filter((o) => o.id === cfg.dc).map((o) => `${o.ipAddress}:${o.port}`),
    }
  })
  await step('signUp', async () => {
    let signUpRequired = false
    let failure = null
    await client.start({
      phoneNumber: async () => cfg.phone,
      phoneCode: async () => cfg.code,
      firstAndLastNames: async () => {
        signUpRequired = true
        return [cfg.firstName, cfg.lastName]
      },
      onError: async (e) => {
        failure = e
        return true // stop: start() would otherwise loop forever on the same error
      },
    }).catch((e) => {
      throw failure ?? e
    })
    const u = await client.getMe()
    return { userId: num(u.id), self: !!u.self, signUpRequired, firstName: u.firstName }
  })
  await step('getSelf', async () => {
    const users = await client.invoke(new Api.users.GetUsers({ id: [new Api.InputUserSelf()] }))
    if (users.length !== 1) throw new Error(`users.getUsers([self]) answered ${users.length} users`)
    return { userId: num(users[0].id), self: !!users[0].self }
  })
  let peer = null
  await step('resolve', async () => {
    const res = await client.invoke(
      new Api.contacts.ImportContacts({
        contacts: [
          new Api.InputPhoneContact({ clientId: bigInt(1), phone: cfg.peerPhone, firstName: 'Peer', lastName: 'Gotd' }),
        ],
      }),
    )
    const id = res.imported[0]?.userId
    const u = res.users.find((x) => x instanceof Api.User && id !== undefined && x.id.equals(id))
    if (!u || !u.accessHash) throw new Error('contacts.importContacts: no imported user with an access hash')
    peer = new Api.InputPeerUser({ userId: u.id, accessHash: u.accessHash })
    return { userId: num(u.id), accessHash: true }
  })
  for (const [i, text] of cfg.texts.entries()) {
    await step('send', async () => {
      const m = await client.sendMessage(peer, { message: text })
      return { i, id: m.id, text: m.message }
    })
  }
  emit('ready', null)
  await step('push', async () => {
    const m = pushes.length > 0 ? pushes.shift() : await waitFor((f) => (onPush = f), cfg.timeoutMs)
    if (m.text !== cfg.pushText) throw new Error(`pushed message ${JSON.stringify(m.text)}, want ${cfg.pushText}`)
    return m
  })
  await step('getDialogs', async () => {
    const res = await client.invoke(
      new Api.messages.GetDialogs({
        offsetDate: 0,
        offsetId: 0,
        offsetPeer: new Api.InputPeerEmpty(),
        limit: 50,
        hash: bigInt(0),
      }),
    )
    return {
      dialogs: res.dialogs
        .filter((d) => d instanceof Api.Dialog)
        .map((d) => ({ peerId: d.peer instanceof Api.PeerUser ? num(d.peer.userId) : 0, topMessage: d.topMessage })),
    }
  })
  await step('getHistory', async () => {
    const msgs = await client.getMessages(peer, { limit: 50 })
    return { messages: msgs.map((m) => ({ id: m.id, out: !!m.out, text: m.message, fromId: num(m.senderId) })) }
  })
  await step('file', async () => {
    // upload.saveFilePart + messages.sendMedia (a document to Saved Messages), then upload.getFile back.
    const data = fileBytes(cfg)
    const msg = await client.sendFile('me', {
      file: new CustomFile('scenario.bin', data.length, '', data),
      forceDocument: true,
      caption: 'scenario file',
    })
    const back = await client.downloadMedia(msg, {})
    return { size: data.length, sentSha: sha256(data), gotSha: sha256(Buffer.from(back)), text: msg.message }
  })
  await step('photo', async () => {
    // A .jpg without forceDocument: GramJS sends it as a photo (inputMediaUploadedPhoto) and downloads the
    // largest size.
    const data = Buffer.from(cfg.photo, 'base64')
    const msg = await client.sendFile('me', { file: new CustomFile('scenario.jpg', data.length, '', data) })
    const size = msg.media.photo.sizes.at(-1)
    const back = await client.downloadMedia(msg, {})
    return { w: size.w, h: size.h, sentSha: sha256(data), gotSha: sha256(Buffer.from(back)) }
  })
  emit('done', null)
  await client.destroy()
  process.exit(0)
} catch {
  await client.destroy().catch(() => {})
  process.exit(1)
}
