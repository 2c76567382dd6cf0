const test = require('node:test')
const assert = require('node:assert/strict')
const { segments, dialable } = require('../src/utils/text')

test('hotlines, landlines and mobiles are numbers to tap; articles, sums and days are not', () => {
  const said = '请打12348或0854-1234567，也可以打13812345678。第120条规定110元，7天内答复。'
  const phones = segments(said).filter((s) => s.phone).map((s) => s.phone)
  assert.deepEqual(phones, ['12348', '08541234567', '13812345678'])
  assert.equal(segments(said).map((s) => s.text).join(''), said, 'nothing is lost or added')
})

test('a web address is a piece to copy, without the punctuation after it', () => {
  const [before, link, after] = segments('预申请表：http://127.0.0.1:8000/eligibility/abc。请保存')
  assert.deepEqual(before, { text: '预申请表：' })
  assert.deepEqual(link, { text: 'http://127.0.0.1:8000/eligibility/abc', link: 'http://127.0.0.1:8000/eligibility/abc' })
  assert.deepEqual(after, { text: '。请保存' })
})

test('a directory number dials without its dashes', () => {
  assert.equal(dialable('000-0000-0001'), '00000000001')
})
