// 适老化: the 大字 setting, remembered on this phone and read by every page.
const LARGE_KEY = 'lawline-large'

module.exports = {
  large: () => wx.getStorageSync(LARGE_KEY) === '1',
  setLarge: (on) => wx.setStorageSync(LARGE_KEY, on ? '1' : '0'),
}
