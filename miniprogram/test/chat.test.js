const test = require('node:test')
const assert = require('node:assert/strict')
const { render, fixture, settle, texts } = require('./setup')
const { install } = require('./wx_standin')

const LOGIN = ['POST /login', [200, { token: 'token-1', expires_in: 604800 }]]

async function opened(routes) {
  const wx = install(Object.fromEntries([LOGIN, ...Object.entries(routes)]))
  const page = render('pages/chat/index')
  await page.instance.onLoad()
  await settle()
  return { page, wx }
}

test('the conversation so far comes back, with the options still offered as numbered buttons', async () => {
  const history = fixture('history')
  const { page, wx } = await opened({ 'GET /history': [200, history] })
  assert.deepEqual(wx.seen.requests.map((r) => r.method + ' ' + r.path), ['POST /login', 'GET /history'])
  assert.equal(wx.seen.requests[1].header.Authorization, 'Bearer token-1')
  assert.deepEqual(texts(page, '.msg.me'), history.messages.filter((m) => m.kind === 'me').map((m) => m.text))
  assert.deepEqual(texts(page, '.option'), history.options.map((o) => `${o.number} ${o.title}`))
})

test('tapping an option sends its number, shows it as offered, then the replies and the next options', async () => {
  const history = fixture('history')
  const next = fixture('messages_options')
  const { page, wx } = await opened({ 'GET /history': [200, history], 'POST /messages': [200, next] })
  const [, second] = page.querySelectorAll('.option')
  second.dispatchEvent('tap')
  await settle()
  const sent = wx.seen.requests.at(-1)
  assert.deepEqual([sent.method, sent.path, sent.data], ['POST', '/messages', { text: '2' }])
  assert.equal(texts(page, '.msg.me').at(-1), `2 ${history.options[1].title}`)
  assert.deepEqual(texts(page, '.msg.bot').slice(-next.replies.length), next.replies.map((r) => r.replace(/\s+/g, ' ').trim()))
  assert.deepEqual(texts(page, '.option'), next.options.map((o) => `${o.number} ${o.title}`))
})

test('an answer gets the 👍/👎 bar; a tap sends 有用 through the same conversation', async () => {
  const answer = fixture('messages_answer')
  const thanks = { replies: ['谢谢您的反馈！'], kinds: ['bot'], options: [] }
  const { page, wx } = await opened({ 'GET /history': [200, { messages: [], options: [] }],
    'POST /messages': (asked) => [200, asked.data.text === '有用' ? thanks : answer] })
  page.instance.setData({ draft: '  老板拖欠工资怎么办 ' })
  await page.instance.onSend()
  await settle()
  assert.deepEqual(wx.seen.requests.at(-1).data, { text: '老板拖欠工资怎么办' })
  assert.equal(page.querySelectorAll('.msg.answer').length, 1)
  assert.equal(page.querySelectorAll('.rate').length, 1)
  assert.deepEqual(texts(page, '.option'), ['1 看法条原文', '2 怎么办', '3 去哪里办'])
  page.querySelector('.rate-up').dispatchEvent('tap')
  await settle()
  assert.deepEqual(wx.seen.requests.at(-1).data, { text: '有用' })
  assert.equal(page.querySelectorAll('.rate').length, 0, 'only the last turn\'s answer is rated')
})

test('numbers in a reply are tapped to call; 第120条 is not a number to call', async () => {
  const reply = { replies: ['请打 12348 或 13812345678 咨询。第120条另有规定。'], kinds: ['bot'], options: [] }
  const { page, wx } = await opened({ 'GET /history': [200, { messages: [], options: [] }],
    'POST /messages': [200, reply] })
  await page.instance.ask('去哪里问')
  await settle()
  const phones = page.querySelectorAll('.msg.bot .phone')
  assert.deepEqual(phones.map((p) => p.dom.textContent), ['12348', '13812345678'])
  phones[1].dispatchEvent('tap')
  page.querySelector('.quick-call').dispatchEvent('tap')
  await settle()
  assert.deepEqual(wx.seen.calls, ['13812345678', '12348'])
})

test('the legal-aid button starts the self-check as if typed', async () => {
  const { page, wx } = await opened({ 'GET /history': [200, { messages: [], options: [] }],
    'POST /messages': [200, fixture('messages_options')] })
  page.querySelector('.quick-legal-aid').dispatchEvent('tap')
  await settle()
  assert.deepEqual(wx.seen.requests.at(-1).data, { text: '法律援助自测' })
  assert.ok(page.querySelectorAll('.option').length > 0)
})

test('a token the server forgot is replaced once and the message sent again', async () => {
  let calls = 0
  const { page, wx } = await opened({
    'GET /history': [200, { messages: [], options: [] }],
    'POST /messages': () => (++calls === 1 ? [401, { error: 'unauthorized' }] : [200, fixture('messages_answer')]),
  })
  await page.instance.ask('工钱')
  await settle()
  assert.deepEqual(wx.seen.requests.map((r) => r.method + ' ' + r.path),
    ['POST /login', 'GET /history', 'POST /messages', 'POST /login', 'POST /messages'])
  assert.equal(wx.seen.logins, 2)
  assert.equal(page.querySelectorAll('.msg.answer').length, 1)
})

test('a calm refusal is shown in its own words; no network, in the page\'s', async () => {
  const calm = '您发得有点快，我还在看前面的消息。请等一分钟再发；着急的话请直接拨打12348热线（7×24小时）。'
  let offline = false
  const { page } = await opened({
    'GET /history': [200, { messages: [], options: [] }],
    'POST /messages': () => (offline ? null : [429, { error: 'rate_limited', replies: [calm] }]),
  })
  await page.instance.ask('你好')
  await settle()
  assert.equal(texts(page, '.msg.error').at(-1), calm)
  offline = true
  await page.instance.ask('你好')
  await settle()
  assert.match(texts(page, '.msg.error').at(-1), /网络不太好/)
  assert.equal(page.instance.data.sending, false)
})

test('large text is one tap and kept on the phone', async () => {
  const { page, wx } = await opened({ 'GET /history': [200, { messages: [], options: [] }] })
  assert.equal(page.querySelectorAll('.page.large').length, 0)
  page.querySelector('.large-toggle').dispatchEvent('tap')
  await settle()
  assert.equal(page.querySelectorAll('.page.large').length, 1)
  assert.equal(wx.storage.get('lawline-large'), '1')
  const again = render('pages/chat/index')
  again.instance.onShow()
  await settle()
  assert.equal(again.querySelectorAll('.page.large').length, 1)
})
