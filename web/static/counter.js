// The counter page: a USB scanner types into the field and ends with Enter;
// the result replaces the last one, the field clears and keeps the focus.
// A pasted or chosen photo is verified the same way.  The list of recent
// results keeps only time, result, type and reason: no name, no number.
(function () {
  "use strict";
  const form = document.getElementById("scan-form");
  const field = document.getElementById("qr");
  const image = document.getElementById("image");
  const box = document.getElementById("result-box");
  const recent = document.getElementById("recent");
  const nonce = document.getElementById("nonce-img");
  if (!form || !field || !box) { return; }
  const KEY = "eseal.counter.recent";
  const KEEP = 20;

  function load() {
    try { return JSON.parse(localStorage.getItem(KEY) || "[]"); } catch (e) { return []; }
  }

  function show(list) {
    if (!recent) { return; }
    recent.textContent = "";
    list.forEach(function (entry) {
      const item = document.createElement("li");
      item.className = entry.result === "VALID" ? "ok" : "bad";
      item.textContent = entry.time + " · " +
        (entry.result === "VALID" ? "✓ 有效" : "✗ 无效") +
        (entry.type ? " · " + entry.type : "") +
        (entry.reason ? " · " + entry.reason : "");
      recent.appendChild(item);
    });
  }

  function remember(section) {
    if (!section) { return; }
    const list = load();
    list.unshift({
      time: new Date().toLocaleTimeString("zh-CN", { hour12: false }),
      result: section.dataset.result || "",
      type: section.dataset.type || "",
      reason: section.dataset.reason || ""
    });
    const kept = list.slice(0, KEEP);
    try { localStorage.setItem(KEY, JSON.stringify(kept)); } catch (e) { /* full */ }
    show(kept);
  }

  function renewNonce() {
    if (nonce) { nonce.src = "/verifier/nonce.svg?t=" + Date.now(); }
  }

  function refused(reason, zh, en) {
    const section = document.createElement("section");
    section.className = "result invalid";
    section.id = "result";
    section.dataset.result = "INVALID";
    section.dataset.reason = reason;
    const title = document.createElement("h2");
    title.textContent = "✗ 无效 INVALID";
    const text = document.createElement("p");
    text.textContent = zh + " · " + en;
    const code = document.createElement("code");
    code.textContent = reason;
    section.append(title, text, code);
    box.textContent = "";
    box.appendChild(section);
  }

  async function send(data) {
    field.value = "";
    try {
      const answer = await fetch("/verifier/check?part=result", {
        method: "POST", body: data, credentials: "same-origin", cache: "no-store"
      });
      const kind = answer.headers.get("content-type") || "";
      if (kind.indexOf("text/html") === 0) {
        box.innerHTML = await answer.text();
      } else {
        // Refused before any verification (a photo too large, say):
        // problem details, shown as a red result built from text only.
        const problem = await answer.json().catch(function () { return {}; });
        refused(problem.reason || "bad_request",
          (problem.message && problem.message["zh-CN"]) || "无法核验",
          problem.detail || "");
      }
      remember(document.getElementById("result"));
    } catch (e) {
      box.textContent = "核验服务不可用 · the verifier is not reachable";
    }
    renewNonce();
    if (image) { image.value = ""; }
    field.focus();
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    // A scanner that ends with CR LF, or a second Enter, submits an empty
    // field: that is no scan, and must not replace the result shown.
    if (!field.value.trim()) { field.focus(); return; }
    send(new FormData(form));
  });
  const lookup = document.getElementById("lookup-form");
  if (lookup) {
    lookup.addEventListener("submit", function (event) {
      event.preventDefault();
      const data = new FormData(lookup);
      lookup.reset();
      send(data);
    });
  }
  if (image) {
    image.addEventListener("change", function () {
      if (image.files && image.files.length) { send(new FormData(form)); }
    });
  }
  document.addEventListener("paste", function (event) {
    const items = (event.clipboardData && event.clipboardData.files) || [];
    for (let i = 0; i < items.length; i += 1) {
      if (items[i].type.indexOf("image/") === 0) {
        event.preventDefault();
        const data = new FormData();
        data.append("image", items[i], "pasted.png");
        send(data);
        return;
      }
    }
  });
  // Keep the scanner's target focused after clicks elsewhere on the page.
  document.addEventListener("click", function (event) {
    if (event.target === document.body) { field.focus(); }
  });
  // A new code well before the shown one ends (half its lifetime).
  if (nonce) {
    setInterval(renewNonce, 1000 * parseInt(nonce.dataset.refresh || "60", 10));
  }
  show(load());
}());
