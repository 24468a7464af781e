// The live stream page: subscribes to the Public group over /ws and shows each new or changed
// public annotation on top, built with textContent only (what users wrote is never HTML here).
// After a dropped connection it reconnects with `since`, the last seq it saw, so the server
// replays what was written in between.
(function () {
  "use strict";
  var status = document.getElementById("status");
  var list = document.getElementById("stream");
  var url = status.getAttribute("data-ws");
  var authority = status.getAttribute("data-authority");
  // The log's head when the page was rendered; every event after it is news.
  var seqAttr = status.getAttribute("data-seq");
  var lastSeq = seqAttr === null ? null : Number(seqAttr);
  var delay = 1000;

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = text;
    return e;
  }

  function link(href, text) {
    var a = el("a", null, text);
    a.href = href;
    return a;
  }

  function quoteOf(ann) {
    var targets = ann.target || [];
    for (var i = 0; i < targets.length; i++) {
      var sel = targets[i].selector || [];
      for (var j = 0; j < sel.length; j++) {
        if (sel[j].type === "TextQuoteSelector" && sel[j].exact) return sel[j].exact;
      }
    }
    return null;
  }

  function card(ann) {
    var c = el("article", "card");
    c.setAttribute("data-id", ann.id);
    var q = quoteOf(ann);
    if (q) c.appendChild(el("blockquote", null, q));
    if (ann.text) c.appendChild(el("div", "text", ann.text));
    if (ann.tags && ann.tags.length) {
      var tags = el("div", "tags");
      ann.tags.forEach(function (t) { tags.appendChild(el("span", null, t)); });
      c.appendChild(tags);
    }
    var meta = el("div", "meta");
    // Only this server's users have pages here.
    var userid = String(ann.user || "");
    var user = userid.replace(/^acct:/, "").replace(/@.*$/, "");
    if (userid.slice(userid.lastIndexOf("@") + 1) === authority) {
      meta.appendChild(link("/users/" + encodeURIComponent(user), user));
    } else {
      meta.appendChild(el("span", null, userid));
    }
    meta.appendChild(document.createTextNode(" · "));
    var when = (ann.updated || "").slice(0, 16).replace("T", " ") + " UTC";
    meta.appendChild(link("/a/" + encodeURIComponent(ann.id), when));
    meta.appendChild(document.createTextNode(" · on "));
    var uri = String(ann.uri || "");
    if (/^https?:\/\//i.test(uri)) {
      var a = link(uri, uri.replace(/^https?:\/\//i, ""));
      a.rel = "nofollow noopener";
      meta.appendChild(a);
    } else {
      meta.appendChild(el("span", null, uri));
    }
    c.appendChild(meta);
    return c;
  }

  function existing(id) {
    var cards = list.querySelectorAll("article.card");
    for (var i = 0; i < cards.length; i++) {
      if (cards[i].getAttribute("data-id") === id) return cards[i];
    }
    return null;
  }

  function apply(msg) {
    var action = msg.options && msg.options.action;
    (msg.payload || []).forEach(function (ann) {
      var old = existing(ann.id);
      if (action === "delete") {
        if (old) old.remove();
        return;
      }
      var fresh = card(ann);
      if (old) old.remove();
      list.insertBefore(fresh, list.firstChild);
    });
  }

  function connect() {
    var ws = new WebSocket(url);
    ws.onopen = function () {
      delay = 1000;
      var filter = {
        match_policy: "include_any",
        clauses: [{ field: "/group", operator: "equals", value: "__world__" }],
        actions: { create: true, update: true, delete: true }
      };
      var msg = { filter: filter };
      if (lastSeq !== null) msg.since = lastSeq;
      ws.send(JSON.stringify(msg));
      status.textContent = "Public annotations, newest first. Live.";
      status.setAttribute("data-state", "live");
    };
    ws.onmessage = function (event) {
      var msg;
      try { msg = JSON.parse(event.data); } catch (e) { return; }
      if (typeof msg.seq === "number") lastSeq = msg.seq;
      if (msg.type === "annotation-notification") apply(msg);
    };
    ws.onclose = function () {
      status.textContent = "Connection lost; reconnecting…";
      status.setAttribute("data-state", "reconnecting");
      setTimeout(connect, delay);
      delay = Math.min(delay * 2, 30000);
    };
  }

  connect();
})();
