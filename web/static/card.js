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
  let stopped = false;
  // A QR that cannot be renewed (signed out, card gone) must not stay on
  // screen looking good: it goes, with the reason and a way back.
  function stop(zh, en) {
    stopped = true;
    box.textContent = "";
    label.textContent = english ? en : zh;
    const link = document.createElement("a");
    link.href = "/wallet/signin";
    link.textContent = english ? " Sign in again" : " 重新登录";
    label.appendChild(link);
  }
  const remove = document.querySelector("form.delete");
  if (remove) {
    remove.addEventListener("submit", function (event) {
      const sure = window.confirm(english
        ? "Delete this card and its key? Getting it back needs a new offer."
        : "删除此证照及其密钥？删除后需重新领取。");
      if (!sure) { event.preventDefault(); }
    });
  }
  async function renew() {
    try {
      const answer = await fetch(url, { credentials: "same-origin", cache: "no-store" });
      if (!answer.ok) {
        stop("刷新失败，二维码已失效。", "Refresh failed; the QR is no longer valid.");
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
    if (stopped) { return; }
    left -= 1;
    if (left <= 0) { renew(); left = every; }
    label.textContent = english ? "refreshes in " + left + " s" : left + " 秒后刷新";
  }, 1000);
}());
