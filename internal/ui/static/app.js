// Progressive enhancement for the hookrelay dashboard. Every page works
// without this script: pages that wait for a delivery attempt reload
// themselves with a <noscript> meta refresh instead.
(function () {
  "use strict";

  var POLL_MS = 1500;
  var MAX_POLLS = 400; // stop after about 10 minutes

  // poll refetches the page while its live region says it is waiting, and
  // swaps in the fresh region, so that a new attempt appears in place.
  function poll() {
    var live = document.querySelector("[data-live]");
    if (!live || live.getAttribute("data-waiting") !== "true") {
      return;
    }
    var n = 0;
    var busy = false;
    var timer = setInterval(function () {
      if (busy) {
        return;
      }
      if (++n > MAX_POLLS) {
        clearInterval(timer);
        return;
      }
      busy = true;
      fetch(location.href, { credentials: "same-origin", headers: { Accept: "text/html" } })
        .then(function (r) {
          if (!r.ok) {
            throw new Error("HTTP " + r.status);
          }
          return r.text();
        })
        .then(function (html) {
          var doc = new DOMParser().parseFromString(html, "text/html");
          var fresh = doc.querySelector("[data-live]");
          if (!fresh) {
            return;
          }
          // The server escaped everything in this markup; it is the same
          // page the browser would get by reloading.
          live.replaceChildren.apply(live, Array.prototype.slice.call(document.adoptNode(fresh).childNodes));
          if (fresh.getAttribute("data-waiting") !== "true") {
            live.setAttribute("data-waiting", "false");
            clearInterval(timer);
          }
        })
        .catch(function () {})
        .then(function () {
          busy = false;
        });
    }, POLL_MS);
  }

  // copyButtons puts a Copy button after each [data-copy] field, which
  // holds a value to paste elsewhere (a source's ingest URL). Without the
  // script the field can still be selected and copied by hand.
  function copyButtons() {
    document.querySelectorAll("[data-copy]").forEach(function (field) {
      if (!navigator.clipboard) {
        return;
      }
      var b = document.createElement("button");
      b.type = "button";
      b.className = "small";
      b.textContent = "Copy";
      b.addEventListener("click", function () {
        navigator.clipboard.writeText(field.value).then(function () {
          b.textContent = "Copied";
        }, function () {
          field.select();
        });
      });
      field.insertAdjacentElement("afterend", b);
    });
  }

  function start() {
    poll();
    copyButtons();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
