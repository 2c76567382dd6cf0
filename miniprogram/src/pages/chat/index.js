// The conversation, the same one as on the official account (and the legal-aid self-check is part of it: the
// resident types or taps its options). Replies, their kinds and the options offered are the server's
// (POST /api/mp/messages, as the web chat's); an option is sent as its number, which is what typing it means.
const api = require('../../utils/api')
const { segments, dialable } = require('../../utils/text')
const prefs = require('../../utils/prefs')

const WORDS = {
  error: '出了点问题，请稍后再试，或直接拨打 12348。',
  offline: '网络不太好，消息没有发出去。请稍后再试，或直接拨打 12348。',
  copied: '链接已复制，可以粘贴到浏览器里打开',
}

let nextId = 0

function shown(text, kind) {
  nextId += 1
  return { id: 'm' + nextId, kind, text, segments: kind === 'me' ? [{ text }] : segments(text), rateable: false }
}

// 👍/👎 only under the answers of the last turn: typed right after an answer, the conversation takes them as a rating.
function markRateable(messages) {
  let lastMine = -1
  messages.forEach((m, i) => { if (m.kind === 'me') lastMine = i })
  return messages.map((m, i) => Object.assign({}, m, { rateable: m.kind === 'answer' && i > lastMine }))
}

Component({
  data: {
    messages: [],
    options: [],
    draft: '',
    sending: false,
    large: false,
    lastId: '',
  },

  methods: {
    onLoad() {
      this.setData({ large: prefs.large() })
      return this.restore()
    },

    onShow() {
      this.setData({ large: prefs.large() })
    },

    // The conversation so far (GET /api/mp/history); a resident who never wrote sees the greeting only.
    restore() {
      return api.history().then((answer) => {
        if (answer.status !== 200 || !answer.body) return
        const messages = answer.body.messages.filter((m) => m.text).map((m) => shown(m.text, m.kind))
        this.show(messages, answer.body.options)
      }, () => {})
    },

    show(messages, options) {
      const all = markRateable(messages)
      this.setData({ messages: all, options: options || [], lastId: all.length ? all[all.length - 1].id : '' })
    },

    // Send ``text`` (what the server reads); the bubble shows ``label`` (an option as it was offered).
    ask(text, label) {
      if (!text || this.data.sending) return Promise.resolve()
      const messages = this.data.messages.concat([shown(label || text, 'me')])
      this.show(messages, [])
      this.setData({ sending: true })
      return api.send(text).then((answer) => {
        const body = answer.body || {}
        const replies = Array.isArray(body.replies) ? body.replies : []
        if (answer.status === 200) {
          const kinds = body.kinds || []
          this.show(messages.concat(replies.map((r, i) => shown(r, kinds[i] || 'bot'))), body.options)
        } else {
          // 429 and 503 carry their own calm words; anything else gets the page's.
          const words = replies.length ? replies : [WORDS.error]
          this.show(messages.concat(words.map((r) => shown(r, 'error'))), [])
        }
      }, () => {
        this.show(messages.concat([shown(WORDS.offline, 'error')]), [])
      }).then(() => this.setData({ sending: false }))
    },

    onInput(e) {
      this.setData({ draft: e.detail.value })
    },

    onSend() {
      const text = this.data.draft.trim()
      this.setData({ draft: '' })
      return this.ask(text)
    },

    onOption(e) {
      const { number, title } = e.currentTarget.dataset
      return this.ask(String(number), number + ' ' + title)
    },

    onQuick(e) {
      return this.ask(e.currentTarget.dataset.text)
    },

    onPhone(e) {
      wx.makePhoneCall({ phoneNumber: dialable(e.currentTarget.dataset.phone), fail: () => {} })
    },

    onLink(e) {
      wx.setClipboardData({
        data: e.currentTarget.dataset.link,
        success: () => wx.showToast({ title: WORDS.copied, icon: 'none' }),
      })
    },

    onLarge() {
      const on = !this.data.large
      prefs.setLarge(on)
      this.setData({ large: on })
    },
  },
})
