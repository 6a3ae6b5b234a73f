// Client-side filters for generated tables (the papers page). A <div class="nnr-filter"
// data-columns="kind,paradigm" data-year-column="year"> placed before a table gets a text box,
// one drop-down per named column and a year range; rows that do not match are hidden.
(function () {
  "use strict";

  function columnIndex(table, name) {
    var headers = table.querySelectorAll("thead th");
    for (var i = 0; i < headers.length; i++) {
      if (headers[i].textContent.trim().toLowerCase() === name) return i;
    }
    return -1;
  }

  function element(tag, attributes, text) {
    var node = document.createElement(tag);
    Object.keys(attributes || {}).forEach(function (key) { node.setAttribute(key, attributes[key]); });
    if (text) node.textContent = text;
    return node;
  }

  function setUp(bar) {
    var table = null;
    for (var node = bar.nextElementSibling; node; node = node.nextElementSibling) {
      table = node.tagName === "TABLE" ? node : node.querySelector("table");
      if (table) break;
    }
    if (!table || bar.dataset.ready) return;
    bar.dataset.ready = "1";
    var rows = Array.prototype.slice.call(table.querySelectorAll("tbody tr"));
    var controls = [];

    var text = element("input", { type: "search", placeholder: "words in title, authors, venue, methods", "aria-label": "filter by words" });
    var textLabel = element("label", {}, "Filter ");
    textLabel.appendChild(text);
    bar.appendChild(textLabel);

    (bar.dataset.columns || "").split(",").filter(Boolean).forEach(function (name) {
      var index = columnIndex(table, name.trim());
      if (index < 0) return;
      var values = {};
      rows.forEach(function (row) {
        row.cells[index].textContent.split("+").forEach(function (v) { values[v.trim()] = true; });
      });
      var select = element("select", { "aria-label": "filter by " + name });
      select.appendChild(element("option", { value: "" }, "all"));
      Object.keys(values).sort().forEach(function (v) { select.appendChild(element("option", { value: v }, v)); });
      var label = element("label", {}, name + " ");
      label.appendChild(select);
      bar.appendChild(label);
      controls.push({ index: index, select: select });
    });

    var yearIndex = bar.dataset.yearColumn ? columnIndex(table, bar.dataset.yearColumn) : -1;
    var from = element("input", { type: "number", placeholder: "from", min: "1950", max: "2100", "aria-label": "from year" });
    var to = element("input", { type: "number", placeholder: "to", min: "1950", max: "2100", "aria-label": "to year" });
    if (yearIndex >= 0) {
      var years = element("label", {}, "years ");
      years.appendChild(from);
      years.appendChild(document.createTextNode("–"));
      years.appendChild(to);
      bar.appendChild(years);
    }
    var count = element("span", { "class": "nnr-count", role: "status" });
    bar.appendChild(count);

    function apply() {
      var words = text.value.toLowerCase().split(/\s+/).filter(Boolean);
      var lo = parseInt(from.value, 10), hi = parseInt(to.value, 10);
      var shown = 0;
      rows.forEach(function (row) {
        var content = row.textContent.toLowerCase();
        var ok = words.every(function (w) { return content.indexOf(w) >= 0; });
        controls.forEach(function (c) {
          if (ok && c.select.value) {
            var cell = row.cells[c.index].textContent.split("+").map(function (v) { return v.trim(); });
            ok = cell.indexOf(c.select.value) >= 0;
          }
        });
        if (ok && yearIndex >= 0) {
          var year = parseInt(row.cells[yearIndex].textContent, 10);
          if (!isNaN(lo) && year < lo) ok = false;
          if (!isNaN(hi) && year > hi) ok = false;
        }
        row.style.display = ok ? "" : "none";
        if (ok) shown++;
      });
      count.textContent = shown + " of " + rows.length + " papers";
    }
    [text, from, to].forEach(function (input) { input.addEventListener("input", apply); });
    controls.forEach(function (c) { c.select.addEventListener("change", apply); });
    var query = new URLSearchParams(window.location.search).get("filter");
    if (query) text.value = query;
    apply();
  }

  function init() { document.querySelectorAll(".nnr-filter").forEach(setUp); }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
