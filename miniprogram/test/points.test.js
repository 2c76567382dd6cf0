const test = require('node:test')
const assert = require('node:assert/strict')
const { render, fixture, settle, texts } = require('./setup')
const { install } = require('./wx_standin')

const LOGIN = ['POST /login', [200, { token: 'token-1', expires_in: 604800 }]]

async function shown(answer) {
  const wx = install(Object.fromEntries([LOGIN, ['GET /service-points', answer]]))
  const page = render('pages/points/index')
  await page.instance.onLoad()
  await settle()
  return { page, wx }
}

test('the map marks only the points with coordinates; the list has every point', async () => {
  const body = fixture('service_points')
  const located = body.points.filter((p) => p.latitude !== null)
  const { page, wx } = await shown([200, body])
  assert.deepEqual(texts(page, '.point .name'), body.points.map((p) => p.name))
  assert.equal(page.querySelectorAll('.map').length, 1)
  assert.deepEqual(page.instance.data.markers.map((m) => [m.latitude, m.longitude, m.title]),
    located.map((p) => [p.latitude, p.longitude, p.name]))
  assert.equal(page.querySelectorAll('.locate').length, located.length)
  page.querySelector('.locate').dispatchEvent('tap')
  await settle()
  assert.deepEqual(wx.seen.locations.map((l) => [l.latitude, l.longitude, l.name]),
    [[located[0].latitude, located[0].longitude, located[0].name]])
})

test('what the directory does not have reads 未配置, never a guess', async () => {
  const body = fixture('service_points')
  const bare = { id: 'sp-bare', kind: 'town_workstation', kind_label: '公共法律服务工作站', name: '某乡工作站',
    address: null, phone: null, hours: null, latitude: null, longitude: null }
  const { page, wx } = await shown([200, { configured: true, points: [bare] }])
  assert.equal(page.querySelectorAll('.map').length, 0, 'no coordinates: no map')
  assert.deepEqual(texts(page, '.address'), ['地址：未配置'])
  assert.deepEqual(texts(page, '.tel'), ['电话：未配置'])
  assert.equal(page.querySelectorAll('.locate').length, 0)
  const phoned = await shown([200, body])
  phoned.page.querySelector('.point .phone').dispatchEvent('tap')
  await settle()
  assert.deepEqual(phoned.wx.seen.calls, [body.points.find((p) => p.phone).phone.replace(/[^\d+]/g, '')])
  assert.deepEqual(wx.seen.calls, [])
})

test('a county without service points yet sends residents to 12348', async () => {
  const { page } = await shown([200, { configured: false, points: [] }])
  assert.equal(page.querySelectorAll('.map').length, 0)
  assert.match(texts(page, '.empty')[0], /还没有录入.*12348/)
})
