/* Outpost status embed: <script src="https://STATUS-PAGE/embed.js" async></script>
   Reads the page's summary.json (CORS) and, only when something is wrong, shows a small
   dismissible notice linking to the status page. No dependencies, no cookies. Everything
   from the JSON goes in through textContent, never as markup; links must be http(s). */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || !window.fetch) return;
  var base = script.src.replace(/\/embed\.js([?#].*)?$/, "");
  var STORE = "outpost-embed-dismissed";

  function safeUrl(value, fallback) {
    try {
      var u = new URL(String(value), base + "/");
      return u.protocol === "https:" || u.protocol === "http:" ? u.href : fallback;
    } catch (e) {
      return fallback;
    }
  }

  function problems(s) {
    var incidents = (s.incidents || []).filter(function (i) {
      return i && i.status !== "resolved" && i.status !== "postmortem";
    });
    var components = (s.components || []).filter(function (c) {
      return c && !c.group && c.status && c.status !== "operational";
    });
    var indicator = (s.status || {}).indicator;
    if (!incidents.length && !components.length && (!indicator || indicator === "none")) {
      return null;
    }
    var text = incidents.length ? String(incidents[0].name || "")
      : String((s.status || {}).description || "Some systems are affected");
    if (components.length) {
      text += " (" + components.length + (components.length === 1 ? " component " : " components ")
        + "affected)";
    }
    var key = incidents.map(function (i) { return i.id + ":" + i.status; })
      .concat(components.map(function (c) { return c.id + ":" + c.status; })).join(",");
    return { text: text.slice(0, 300), key: key, maintenance: indicator === "maintenance" };
  }

  function dismissed(key) {
    try { return window.sessionStorage.getItem(STORE) === key; } catch (e) { return false; }
  }

  function show(summary) {
    var found = summary && problems(summary);
    if (!found || dismissed(found.key)) return;
    var page = summary.page || {};
    var host = document.createElement("div");
    host.setAttribute("data-outpost-embed", "");
    var root = host.attachShadow ? host.attachShadow({ mode: "open" }) : host;
    var style = document.createElement("style");
    style.textContent = ".n{position:fixed;z-index:2147483647;right:16px;bottom:16px;" +
      "max-width:340px;padding:12px 40px 12px 14px;border-radius:8px;font:14px/1.4 system-ui," +
      "sans-serif;color:#fff;background:" + (found.maintenance ? "#0969da" : "#bc4c00") + ";" +
      "box-shadow:0 4px 16px rgba(0,0,0,.25)}.n a{color:#fff;font-weight:600}" +
      ".x{position:absolute;top:6px;right:8px;border:0;background:none;color:#fff;" +
      "font-size:20px;line-height:1;cursor:pointer}";
    var box = document.createElement("div");
    box.className = "n";
    box.setAttribute("role", "status");
    var title = document.createElement("strong");
    title.textContent = String(page.name || "Status") + ": ";
    var message = document.createElement("span");
    message.textContent = found.text + " ";
    var link = document.createElement("a");
    link.href = safeUrl(page.url, base + "/");
    link.target = "_blank";
    link.rel = "noopener noreferrer";
    link.textContent = "View status";
    var close = document.createElement("button");
    close.className = "x";
    close.type = "button";
    close.setAttribute("aria-label", "Dismiss");
    close.textContent = "\u00d7";
    close.addEventListener("click", function () {
      try { window.sessionStorage.setItem(STORE, found.key); } catch (e) { /* private mode */ }
      host.remove();
    });
    box.appendChild(title);
    box.appendChild(message);
    box.appendChild(link);
    box.appendChild(close);
    root.appendChild(style);
    root.appendChild(box);
    (document.body || document.documentElement).appendChild(host);
  }

  fetch(base + "/api/v2/summary.json", { mode: "cors", credentials: "omit" })
    .then(function (r) { return r.ok ? r.json() : null; })
    .then(function (s) {
      if (document.body) show(s);
      else document.addEventListener("DOMContentLoaded", function () { show(s); });
    })
    .catch(function () { /* the status page is unreachable: say nothing rather than guess */ });
})();
