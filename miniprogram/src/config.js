// Where the Lawline server is (its /api/mp/* routes). Loopback for WeChat's developer tool on the machine that
// runs `make run` (project.config.json turns the tool's domain check off for it). For a release, the county's
// HTTPS address behind its proxy (LAWLINE_PUBLIC_URL), also entered as the request domain in the mini-program's
// back office (开发管理 → 开发设置 → 服务器域名 → request合法域名): a phone only talks to listed HTTPS domains.
module.exports = {
  baseUrl: 'http://127.0.0.1:8000',
}
