// Nothing at launch: each page signs in when it first asks the server (utils/api.js).
App({})
