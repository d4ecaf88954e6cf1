// Renews the card's QR every few seconds and counts down to the next one.
(function () {
  "use strict";
  const box = document.getElementById("qr");
  const label = document.getElementById("countdown");
  if (!box || !label) { return; }
  const every = parseInt(box.dataset.refresh || "30", 10);
  const english = document.documentElement.lang === "en";
  const url = "/wallet/api/v1/cards/" + encodeURIComponent(box.dataset.serial) +
    "/presentation?profile=" + encodeURIComponent(box.dataset.profile || "full");
  let left = every;
  async function renew() {
    try {
      const answer = await fetch(url, { credentials: "same-origin", cache: "no-store" });
      if (!answer.ok) {
        label.textContent = english ? "Refresh failed" : "刷新失败";
        return;
      }
      const data = await answer.json();
      box.innerHTML = data.svg;
      box.dataset.qr = data.qr;
      left = every;
    } catch (e) {
      label.textContent = english ? "Offline" : "网络不可用";
    }
  }
  setInterval(function () {
    left -= 1;
    if (left <= 0) { renew(); left = every; }
    label.textContent = english ? "refreshes in " + left + " s" : left + " 秒后刷新";
  }, 1000);
}());
