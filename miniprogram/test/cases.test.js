const test = require('node:test')
const assert = require('node:assert/strict')
const { render, fixture, settle, texts } = require('./setup')
const { install } = require('./wx_standin')

const LOGIN = ['POST /login', [200, { token: 'token-1', expires_in: 604800 }]]

async function shown(answer) {
  const wx = install(Object.fromEntries([LOGIN, ['GET /cases', answer]]))
  const page = render('pages/cases/index')
  await page.instance.onShow()
  await settle()
  return { page, wx }
}

test('each case shows where it stands, in the server\'s words', async () => {
  const body = fixture('cases')
  const { page } = await shown([200, body])
  assert.deepEqual(texts(page, '.status'), body.cases.map((c) => c.status))
  assert.deepEqual(texts(page, '.target'), body.cases.map((c) => `转给：${c.target}`))
  assert.match(texts(page, '.what')[0], new RegExp(`编号 ${body.cases[0].id}`))
  const withOutcome = body.cases.filter((c) => c.outcome)
  assert.deepEqual(texts(page, '.outcome'), withOutcome.map((c) => `办理结果：${c.outcome}`))
  const withCallback = body.cases.filter((c) => c.callback)
  assert.deepEqual(texts(page, '.callback-at'), withCallback.map((c) => `预约回电：${c.callback}以后`))
})

test('no case yet: how to reach a person, with 12348 to tap', async () => {
  const { page, wx } = await shown([200, { cases: [] }])
  assert.equal(page.querySelectorAll('.case').length, 0)
  assert.match(texts(page, '.empty')[0], /还没有转给工作人员的事/)
  page.querySelector('.empty .phone').dispatchEvent('tap')
  await settle()
  assert.deepEqual(wx.seen.calls, ['12348'])
})

test('the server failing is said calmly, with the hotline', async () => {
  const { page } = await shown([500, { error: '抱歉' }])
  assert.match(texts(page, '.error')[0], /12348/)
})
