// The offline review page: no network, no server. State lives in localStorage under the queue id;
// "Save file" downloads the CSV that `vlmfr review import` reads (the export's columns, filled in).
//
// Every change is written synchronously, before its event handler returns, to localStorage (kept across
// sessions) and to sessionStorage (kept across reloads of this tab). Both, because Chromium can hand the
// document after a reload of a file:// page a localStorage that misses the writes of the last second
// or so before the reload (up to 1 reload in 10 in headless Chromium 156; not seen over http://, nor for
// sessionStorage). Each save carries a revision; loading takes the newer copy (and puts it back into
// localStorage), so that the next change is not saved over the lost ones. The page is saved again on
// pagehide and when it is hidden, and marks <html data-review-ready="<token of this load>"> once the
// saved state is on screen.
"use strict";
(function () {
  const data = JSON.parse(document.getElementById("review-data").textContent);
  const storageKey = "vlmfr-review-" + data.queue_id;

  function read(storage) {
    try {
      const saved = JSON.parse(window[storage].getItem(storageKey) || "null");
      return saved && typeof saved === "object" ? saved : null;
    } catch (e) {
      return null;  // storage disabled, or not JSON
    }
  }
  const revision = (saved) => (saved && Number(saved.revision)) || 0;
  const kept = read("localStorage"), tab = read("sessionStorage");
  const staleLocal = revision(tab) > revision(kept);  // localStorage missed this tab's last changes
  const saved = (staleLocal ? tab : kept) || {};
  const state = { reviewer: saved.reviewer || "", rows: saved.rows || {}, revision: revision(saved) };
  const rowsEl = document.getElementById("rows");
  function write() {
    const text = JSON.stringify(state);
    for (const storage of ["localStorage", "sessionStorage"]) {
      try { window[storage].setItem(storageKey, text); } catch (e) { /* private mode: keep in memory */ }
    }
  }
  function persist() {
    state.revision += 1;
    write();
    updateProgress();
  }
  function entry(id) {
    return state.rows[id] || (state.rows[id] = { rating: "", correction: "", comment: "", reviewed_at: "" });
  }
  function isDone(e) { return !!(e && (e.rating || e.correction.trim())); }
  function today() { return new Date().toISOString().slice(0, 10); }

  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") node.className = v; else if (k === "text") node.textContent = v; else node.setAttribute(k, v);
    }
    for (const child of children || []) node.append(child);
    return node;
  }
  // The English with its protected spans marked (they must survive into the French unchanged).
  function sourceNode(row) {
    const node = el("div", { class: "source" });
    let text = row.text_en;
    const spans = [...new Set(row.spans)].filter(Boolean).sort((a, b) => b.length - a.length);
    while (text.length) {
      let at = -1, hit = "";
      for (const s of spans) { const i = text.indexOf(s); if (i >= 0 && (at < 0 || i < at)) { at = i; hit = s; } }
      if (at < 0) { node.append(text); break; }
      node.append(text.slice(0, at), el("span", { class: "span", text: hit }));
      text = text.slice(at + hit.length);
    }
    return node;
  }
  function count(haystack, needle) {
    let n = 0, i = 0;
    while (needle && (i = haystack.indexOf(needle, i)) >= 0) { n += 1; i += needle.length; }
    return n;
  }
  function spanProblems(row, correction) {
    if (!correction.trim()) return [];
    return [...new Set(row.spans)].filter((s) => count(correction, s) !== count(row.text_en, s));
  }

  function card(row) {
    const e = entry(row.segment_id);
    const node = el("section", { class: "card", "data-segment": row.segment_id });
    const meta = el("div", { class: "meta" }, [
      el("span", { text: "#" + row.rank }),
      el("span", { class: "badge", text: row.kind }),
      el("span", { text: row.n_occurrences.toLocaleString() + " uses" }),
      el("span", { class: "badge " + row.selection, text: row.selection === "stratified" ? "random check" : "high impact" }),
    ]);
    node.append(meta, sourceNode(row));
    if (row.context) node.append(el("div", { class: "context", text: "Follows: " + row.context }));
    const table = el("table", { class: "engines" });
    for (const t of row.translations) {
      const rated = t.system === row.rated_system;
      const sys = el("td", { class: "sys", text: t.system });
      if (t.system === row.best_system) sys.append(el("span", { class: "tag", text: "chosen" }));
      if (rated) sys.append(el("span", { class: "tag", text: "rate this" }));
      table.append(el("tr", { class: rated ? "rated" : "" }, [sys, el("td", { class: "fr", text: t.text_fr || "" })]));
    }
    node.append(table);

    const ratings = el("div", { class: "ratings", role: "radiogroup" });
    for (let r = 1; r <= 5; r++) {
      const input = el("input", { type: "radio", name: "rating-" + row.segment_id, value: String(r) });
      input.checked = String(e.rating) === String(r);
      input.addEventListener("change", () => { e.rating = String(r); touch(); });
      ratings.append(el("label", { title: "rating " + r }, [input, el("span", { text: String(r) })]));
    }
    const correction = el("textarea", { class: "correction", rows: "1", placeholder: "only if the French above is not right" });
    correction.value = e.correction;
    const warning = el("div", { class: "warning" });
    const startFrom = el("button", { type: "button", text: "start from the rated French" });
    startFrom.addEventListener("click", () => { correction.value = row.rated_fr || ""; correction.dispatchEvent(new Event("input")); correction.focus(); });
    correction.addEventListener("input", () => { e.correction = correction.value; touch(); });
    const comment = el("input", { class: "comment", placeholder: "optional" });
    comment.value = e.comment;
    comment.addEventListener("input", () => { e.comment = comment.value; touch(); });
    node.append(el("div", { class: "form" }, [
      el("label", { text: "Rating" }), el("div", { class: "row-tools" }, [ratings]),
      el("label", { text: "Corrected French" }), el("div", {}, [correction, el("div", { class: "row-tools" }, [startFrom, warning])]),
      el("label", { text: "Comment" }), comment,
    ]));
    function touch() {
      e.reviewed_at = today();
      const problems = spanProblems(row, e.correction);
      warning.textContent = problems.length ? "keep exactly as in the English: " + problems.join(", ") : "";
      node.classList.toggle("done", isDone(e));
      persist();
    }
    node.classList.toggle("done", isDone(e));
    return node;
  }

  function updateProgress() {
    const done = data.rows.filter((r) => isDone(state.rows[r.segment_id])).length;
    document.getElementById("progress-text").textContent = done + " of " + data.rows.length + " reviewed";
    document.getElementById("bar").style.width = (100 * done / Math.max(1, data.rows.length)) + "%";
  }

  function csvCell(value) {
    const text = value === null || value === undefined ? "" : String(value);
    return /[",\r\n]/.test(text) ? '"' + text.replace(/"/g, '""') + '"' : text;
  }
  function buildCsv() {
    const columns = data.columns.concat(data.review_columns);
    const lines = [columns.map(csvCell).join(",")];
    for (const row of data.rows) {
      const e = state.rows[row.segment_id] || {};
      const reviewed = isDone(e) || (e.comment || "").trim();
      const filled = {
        reviewer: reviewed ? state.reviewer : "",
        reviewed_at: reviewed ? e.reviewed_at || today() : "",
        rating: e.rating || "",
        correction: e.correction || "",
        comment: e.comment || "",
      };
      lines.push(columns.map((c) => csvCell(c in filled ? filled[c] : row.csv[c])).join(","));
    }
    return lines.join("\r\n") + "\r\n";
  }
  function save() {
    const reviewer = state.reviewer.trim();
    if (!reviewer) { alert("Please type your name first."); document.getElementById("reviewer").focus(); return; }
    const blob = new Blob([buildCsv()], { type: "text/csv;charset=utf-8" });
    const link = el("a", {
      href: URL.createObjectURL(blob),
      download: "review-" + data.queue_id + "-" + reviewer.replace(/[^\w-]+/g, "_") + "-" + today() + ".csv",
    });
    document.body.append(link);
    link.click();
    link.remove();
  }

  document.getElementById("subtitle").textContent =
    data.rows.length + " strings covering " + data.coverage + " of all uses · queue " + data.queue_id + " · exported " + data.created_at;
  const reviewer = document.getElementById("reviewer");
  reviewer.value = state.reviewer;
  reviewer.addEventListener("input", () => { state.reviewer = reviewer.value; persist(); });
  document.getElementById("save").addEventListener("click", save);
  for (const row of data.rows) rowsEl.append(card(row));
  updateProgress();
  // leaving or hiding the page: save once more (every handler has saved already)
  window.addEventListener("pagehide", write);
  document.addEventListener("visibilitychange", () => { if (document.visibilityState === "hidden") write(); });
  if (staleLocal) write();
  // for scripted checks (restoredFrom: which copy the saved state came from)
  window.vlmfrReview = { buildCsv: buildCsv, state: state, restoredFrom: staleLocal ? "sessionStorage" : "localStorage" };
  // last: the cards and the progress show the saved state. A new token per load, so a script can tell
  // this document from the one before a reload.
  document.documentElement.dataset.reviewReady = Date.now().toString(36) + "-" + Math.random().toString(36).slice(2);
})();
