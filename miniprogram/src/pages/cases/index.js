// The resident's cases (转人工 tickets, legal-aid pre-applications sent) and where each stands, from
// GET /api/mp/cases; read again every time the page shows and on pull-down.
const api = require('../../utils/api')
const { dialable } = require('../../utils/text')
const prefs = require('../../utils/prefs')

const WORDS = {
  error: '暂时查不到，请稍后下拉刷新，或直接拨打 12348。',
}

Component({
  data: {
    cases: [],
    loading: true,
    error: '',
    large: false,
  },

  methods: {
    onShow() {
      this.setData({ large: prefs.large() })
      return this.load()
    },

    onPullDownRefresh() {
      return this.load().then(() => wx.stopPullDownRefresh())
    },

    load() {
      return api.cases().then((answer) => {
        if (answer.status === 200 && answer.body && Array.isArray(answer.body.cases)) {
          this.setData({ cases: answer.body.cases, loading: false, error: '' })
        } else {
          this.setData({ loading: false, error: WORDS.error })
        }
      }, () => this.setData({ loading: false, error: WORDS.error }))
    },

    onPhone(e) {
      wx.makePhoneCall({ phoneNumber: dialable(e.currentTarget.dataset.phone), fail: () => {} })
    },
  },
})
