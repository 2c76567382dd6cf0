// The county's service points from its directory (GET /api/mp/service-points), nearest the resident's village
// first. The map shows only the points the directory gives coordinates for; every point is in the list, and a
// figure the directory lacks reads 未配置, never a guess.
const api = require('../../utils/api')
const { dialable } = require('../../utils/text')
const prefs = require('../../utils/prefs')

const WORDS = {
  error: '暂时查不到服务点，请稍后再试，或直接拨打 12348 问清楚去哪里办。',
}

function markersOf(points) {
  return points
    .map((p, index) => ({ p, index }))
    .filter(({ p }) => typeof p.latitude === 'number' && typeof p.longitude === 'number')
    .map(({ p, index }) => ({
      id: index,
      latitude: p.latitude,
      longitude: p.longitude,
      title: p.name,
      callout: { content: p.name, display: 'BYCLICK', padding: 6 },
    }))
}

Component({
  data: {
    points: [],
    markers: [],
    center: null,
    configured: true,
    loading: true,
    error: '',
    large: false,
  },

  methods: {
    onLoad() {
      return this.load()
    },

    onShow() {
      this.setData({ large: prefs.large() })
    },

    load() {
      return api.servicePoints().then((answer) => {
        const body = answer.body
        if (answer.status !== 200 || !body || !Array.isArray(body.points)) {
          this.setData({ loading: false, error: WORDS.error })
          return
        }
        const markers = markersOf(body.points)
        this.setData({
          points: body.points.map((p) => Object.assign({ located: typeof p.latitude === 'number' }, p)),
          markers,
          center: markers.length ? { latitude: markers[0].latitude, longitude: markers[0].longitude } : null,
          configured: body.configured,
          loading: false,
          error: '',
        })
      }, () => this.setData({ loading: false, error: WORDS.error }))
    },

    // WeChat's own map page, with its way there (no location permission needed).
    open(index) {
      const p = this.data.points[index]
      if (!p || !p.located) return
      wx.openLocation({ latitude: p.latitude, longitude: p.longitude, name: p.name, address: p.address || '' })
    },

    onOpen(e) {
      this.open(Number(e.currentTarget.dataset.index))
    },

    onMarker(e) {
      this.open(Number(e.detail.markerId))
    },

    onPhone(e) {
      wx.makePhoneCall({ phoneNumber: dialable(e.currentTarget.dataset.phone), fail: () => {} })
    },
  },
})
