// A reply as pieces the page can show: phone numbers to tap (wx.makePhoneCall) and web addresses to copy (a
// mini-program opens no outside page). The same rule as the web chat (bot/templates/chat.html): the emergency
// numbers and 123xx hotlines, landlines and mobiles; not "第120条" or "110元".
const LINK = /(https?:\/\/[^\s，。；、！？）)」”"'<>]+)|(^|[^\d第.])(1(?:10|19|20|22)|123\d\d|0\d{2,3}-\d{7,8}|1[3-9]\d{9})(?![\d元块天条日个年月号%万岁米])/g

function segments(text) {
  const re = new RegExp(LINK.source, 'g')
  const out = []
  let last = 0
  let m
  while ((m = re.exec(text)) !== null) {
    let label
    let start
    if (m[1]) {
      label = m[1].replace(/[.,]+$/, '')
      start = m.index
    } else {
      label = m[3]
      start = m.index + m[2].length
    }
    if (start > last) out.push({ text: text.slice(last, start) })
    out.push(m[1] ? { text: label, link: label } : { text: label, phone: dialable(label) })
    last = start + label.length
    re.lastIndex = last
  }
  if (last < text.length) out.push({ text: text.slice(last) })
  return out
}

// What wx.makePhoneCall is given: the digits (a directory's "0000-1234567" dials without its dash).
function dialable(number) {
  return String(number).replace(/[^\d+]/g, '')
}

module.exports = { segments, dialable }
