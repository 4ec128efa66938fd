// The trace page's behaviour, on top of plain links that work without it:
// collapse and expand subtrees of the waterfall, open a span's panel in place (the
// fragment route) instead of reloading the page, and load the whole of a clipped value
// ("show all") as text. Loaded as a file: the CSP runs no inline script.
(function () {
  "use strict";

  // Each row's depth is its indentation, the --d of its inline style.
  function depth(row) {
    return Number(row.style.getPropertyValue("--d"));
  }

  function isCollapsed(row) {
    const toggle = row.querySelector("button.tg");
    return toggle !== null && toggle.getAttribute("aria-expanded") === "false";
  }

  function setToggle(row, collapsed) {
    const toggle = row.querySelector("button.tg");
    if (toggle === null) return;
    toggle.setAttribute("aria-expanded", collapsed ? "false" : "true");
  }

  // Rows are flat and in tree order: a row's subtree is the rows after it that are
  // deeper. Showing it again keeps the subtrees collapsed inside it hidden.
  function refreshSubtree(rows, index) {
    const top = depth(rows[index]);
    const collapsed = isCollapsed(rows[index]);
    let hideDeeperThan = Infinity;
    for (let i = index + 1; i < rows.length; i++) {
      const row = rows[i];
      const d = depth(row);
      if (d <= top) break;
      if (collapsed || d > hideDeeperThan) {
        row.hidden = true;
        continue;
      }
      row.hidden = false;
      hideDeeperThan = isCollapsed(row) ? d : Infinity;
    }
  }

  function setAll(list, collapsed) {
    for (const row of list.children) {
      setToggle(row, collapsed);
      row.hidden = collapsed && depth(row) > 0;
    }
  }

  function modified(event) {
    return event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey;
  }

  let latest = 0;

  function openSpan(split, spanId, link) {
    const panel = document.getElementById("panel");
    const ticket = ++latest;
    panel.classList.add("loading");
    fetch(split.dataset.panelBase + spanId + split.dataset.query, {
      headers: { "HX-Request": "true" },
    })
      .then(function (response) {
        if (!response.ok) throw new Error("panel: HTTP " + response.status);
        return response.text();
      })
      .then(function (html) {
        if (ticket !== latest) return;
        // Server-rendered and autoescaped; the CSP would not run a script in it anyway.
        panel.innerHTML = html;
        panel.scrollTop = 0;
        for (const element of document.querySelectorAll(".sel[data-s]")) {
          element.classList.remove("sel");
        }
        const selector = '[data-s="' + CSS.escape(spanId) + '"]';
        for (const element of document.querySelectorAll(selector)) {
          element.classList.add("sel");
        }
        history.replaceState(null, "", link.href);
      })
      .catch(function () {
        window.location.href = link.href;
      })
      .finally(function () {
        if (ticket === latest) panel.classList.remove("loading");
      });
  }

  function showAll(link) {
    const box = link.closest(".val");
    const pre = box === null ? null : box.querySelector("pre");
    if (pre === null) {
      window.location.href = link.href;
      return;
    }
    fetch(link.href)
      .then(function (response) {
        if (!response.ok) throw new Error("value: HTTP " + response.status);
        return response.text();
      })
      .then(function (text) {
        pre.textContent = text; // text, never markup
        pre.classList.add("expanded");
        link.closest(".more").remove();
      })
      .catch(function () {
        window.location.href = link.href;
      });
  }

  document.addEventListener("click", function (event) {
    const target = event.target;
    if (!(target instanceof Element)) return;

    const toggle = target.closest(".wf-rows button.tg");
    if (toggle !== null) {
      const row = toggle.closest(".wf-row");
      const rows = Array.from(row.parentElement.children);
      setToggle(row, !isCollapsed(row));
      refreshSubtree(rows, rows.indexOf(row));
      return;
    }

    const all = target.closest("button[data-wf]");
    if (all !== null) {
      const list = document.querySelector(".wf-rows");
      if (list !== null) setAll(list, all.dataset.wf === "collapse");
      return;
    }

    const link = target.closest("a");
    if (link === null || modified(event)) return;

    if (link.classList.contains("show-all")) {
      event.preventDefault();
      showAll(link);
      return;
    }

    const owner = link.closest(".wf-name, .step-title");
    const split = link.closest(".trace-split");
    const item = link.closest("[data-s]");
    if (owner !== null && split !== null && item !== null) {
      event.preventDefault();
      openSpan(split, item.dataset.s, link);
    }
  });

  document.addEventListener("DOMContentLoaded", function () {
    const selected = document.querySelector(".trace-main .sel[data-s]");
    if (selected !== null) selected.scrollIntoView({ block: "center" });
  });
})();
