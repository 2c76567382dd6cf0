// A stand-in for the WeChat client's own APIs the pages call: wx.login, wx.request, storage, wx.makePhoneCall,
// the clipboard and wx.openLocation. It records what a page asked and answers requests from the routes a test
// gives ("METHOD /path" → [status, body] or a function of the request). The bodies are the fixtures in
// fixtures/, whose shape tests/bot/test_mini_program_api.py checks against the real server's answers.
const config = require('../src/config')

const PREFIX = config.baseUrl.replace(/\/+$/, '') + '/api/mp'

function install(routes) {
  const seen = { requests: [], calls: [], clipboard: [], locations: [], logins: 0 }
  const storage = new Map()
  const later = (fn) => setTimeout(fn, 0)
  Object.assign(global.wx, {
    login(options) {
      seen.logins += 1
      later(() => options.success({ code: 'code-' + seen.logins, errMsg: 'login:ok' }))
    },
    request(options) {
      if (!options.url.startsWith(PREFIX)) throw new Error('not the configured server: ' + options.url)
      const url = new URL(options.url)
      if (!['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname)) throw new Error('not loopback: ' + options.url)
      const asked = { method: options.method || 'GET', path: options.url.slice(PREFIX.length), data: options.data,
        header: options.header || {} }
      seen.requests.push(asked)
      const route = routes[asked.method + ' ' + asked.path]
      const answer = typeof route === 'function' ? route(asked) : route
      later(() => {
        if (!answer) options.fail({ errMsg: 'request:fail' })
        else options.success({ statusCode: answer[0], data: answer[1], header: {} })
      })
    },
    getStorageSync: (key) => (storage.has(key) ? storage.get(key) : ''),
    setStorageSync: (key, value) => { storage.set(key, value) },
    removeStorageSync: (key) => { storage.delete(key) },
    makePhoneCall(options) { seen.calls.push(options.phoneNumber) },
    setClipboardData(options) {
      seen.clipboard.push(options.data)
      if (options.success) later(() => options.success({ errMsg: 'setClipboardData:ok' }))
    },
    showToast() {},
    stopPullDownRefresh() {},
    openLocation(options) { seen.locations.push(options) },
  })
  return { seen, storage }
}

module.exports = { install }
