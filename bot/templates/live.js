  // How an open page listens (bot.live): server-sent events, else a long poll (EventSource missing, refused, or
  // failing three times: an old in-app browser, a proxy that buffers). The web chat and the adviser console
  // include this in their one nonce'd script rather than load it, so a page and its listener are always of one
  // version, even in an in-app browser's cache. Plain ES5. The page keeps its cursor and says:
  //   url()          the events URL with its "after", asked at each (re)connection;
  //   arrive(events) what came, [{id, ...}], maybe again (a cut stream, a second tab): the page drops what it showed;
  //   ready()        (optional) false while there is nothing to listen to;
  //   gone()         (optional) the server does not know what the page listens to (404); not asked again.
  function liveUpdates(page) {
    var stream = null, polling = false, useStream = !!window.EventSource, failures = 0;
    function ready() { return !page.ready || page.ready(); }
    function listen() {
      if (!ready() || stream || polling) { return; }
      if (!useStream) { poll(); return; }
      var opened = false;
      stream = new window.EventSource(page.url());
      stream.onopen = function () { opened = true; failures = 0; };
      stream.onmessage = function (e) {
        var ev = null;
        try { ev = JSON.parse(e.data); } catch (err) { ev = null; }
        if (ev) { page.arrive([ev]); }
      };
      stream.onerror = function () {
        if (!opened) { failures += 1; }
        opened = false;
        if (stream && (stream.readyState === 2 || failures >= 3)) {  // 2: CLOSED (refused, or not a stream)
          stream.close();
          stream = null;
          useStream = false;
          poll();
        }
      };
    }
    function poll() {
      if (!ready() || polling) { return; }
      polling = true;
      var xhr = new XMLHttpRequest();
      xhr.open("GET", page.url() + "&wait=25", true);
      xhr.setRequestHeader("Accept", "application/json");
      xhr.timeout = 40000;
      xhr.onload = function () {
        polling = false;
        var body = null;
        try { body = JSON.parse(xhr.responseText); } catch (e) { body = null; }
        if (xhr.status === 200 && body && body.events) { page.arrive(body.events); poll(); }
        else if (xhr.status === 404) { if (page.gone) { page.gone(); } }
        else if (xhr.status !== 400) { window.setTimeout(poll, 5000); }
      };
      xhr.onerror = xhr.ontimeout = function () { polling = false; window.setTimeout(poll, 5000); };
      xhr.send();
    }
    function stop() { if (stream) { stream.close(); stream = null; } }
    return { listen: listen, stop: stop };
  }
