// miniprogram-simulate renders into a DOM: jsdom's, installed as the globals it expects (Node's own Event and
// EventTarget would not do). Pages are built with Component() (WeChat allows it for pages), so they render here.
const path = require('path')
const { JSDOM } = require('jsdom')

const dom = new JSDOM('<!doctype html><html><body></body></html>', { pretendToBeVisual: true })
for (const name of ['window', 'document', 'navigator', 'Node', 'Element', 'HTMLElement', 'Event', 'CustomEvent',
  'MutationObserver']) {
  Object.defineProperty(global, name, { value: name === 'window' ? dom.window : dom.window[name], configurable: true,
    writable: true })
}

const simulate = require('miniprogram-simulate')

const SRC = path.join(__dirname, '..', 'src')

// The page at ``page`` (e.g. "pages/chat/index"), rendered and attached.
function render(page) {
  const id = simulate.load(path.join(SRC, page), { rootPath: SRC })
  const comp = simulate.render(id)
  comp.attach(document.createElement('parent-wrapper'))
  return comp
}

function fixture(name) {
  return require(path.join(__dirname, 'fixtures', name + '.json'))
}

// Let the stand-in's answers (setTimeout 0) and the page's promise chains run.
async function settle() {
  for (let i = 0; i < 5; i++) await simulate.sleep(0)
}

function texts(comp, selector) {
  return comp.querySelectorAll(selector).map((c) => c.dom.textContent.replace(/\s+/g, ' ').trim())
}

module.exports = { render, fixture, settle, texts, simulate }
