// The server's /api/mp/* routes (channels/mini_program.py), behind one sign-in: wx.login's code becomes our own
// session token (POST /api/mp/login), kept in the phone's storage and sent as a Bearer token. A token the server
// no longer knows (expired, or the server's storage was reset) is replaced once, then the call is made again.
const config = require('../config')

const TOKEN_KEY = 'lawline-mp-token'
const TIMEOUT_MS = 20000

function url(path) {
  return config.baseUrl.replace(/\/+$/, '') + '/api/mp' + path
}

// Resolves {status, body} for any HTTP answer; rejects only when nothing came back (no network, timeout).
function request(method, path, data, token) {
  return new Promise((resolve, reject) => {
    wx.request({
      url: url(path),
      method,
      data,
      header: token ? { Authorization: 'Bearer ' + token } : {},
      timeout: TIMEOUT_MS,
      success: (res) => resolve({ status: res.statusCode, body: res.data }),
      fail: reject,
    })
  })
}

function signIn() {
  return new Promise((resolve, reject) => wx.login({ success: resolve, fail: reject }))
    .then((res) => request('POST', '/login', { code: res.code }))
    .then((answer) => {
      if (answer.status !== 200 || !answer.body || !answer.body.token) {
        return Promise.reject(answer)
      }
      wx.setStorageSync(TOKEN_KEY, answer.body.token)
      return answer.body.token
    })
}

function call(method, path, data) {
  const kept = wx.getStorageSync(TOKEN_KEY)
  const token = kept ? Promise.resolve(kept) : signIn()
  return token
    .then((t) => request(method, path, data, t))
    .then((answer) => {
      if (answer.status !== 401 || !kept) {
        return answer
      }
      wx.removeStorageSync(TOKEN_KEY)
      return signIn().then((t) => request(method, path, data, t))
    })
}

module.exports = {
  TOKEN_KEY,
  send: (text) => call('POST', '/messages', { text }),
  history: () => call('GET', '/history'),
  cases: () => call('GET', '/cases'),
  servicePoints: () => call('GET', '/service-points'),
}
