// Filters and sorting for the decision table. The filters also live in the URL fragment
// (#q=text&decision=delete&account=111111111111&outcome=failed), so a link opens a filtered view.
(function () {
  "use strict";
  var table = document.getElementById("decisions");
  if (!table) {
    return;
  }
  var body = table.tBodies[0];
  var entries = Array.prototype.map.call(body.rows, function (row) {
    return { row: row, text: row.textContent.toLowerCase() };
  });
  var text = document.getElementById("f-q");
  var selects = Array.prototype.slice.call(document.querySelectorAll("select[data-filter]"));
  var counter = document.getElementById("counter");

  function apply() {
    var needle = text.value.trim().toLowerCase();
    var wanted = selects.map(function (select) {
      return [select.getAttribute("data-filter"), select.value];
    }).filter(function (pair) {
      return pair[1] !== "";
    });
    var shown = 0;
    entries.forEach(function (entry) {
      var visible = needle === "" || entry.text.indexOf(needle) !== -1;
      for (var i = 0; visible && i < wanted.length; i += 1) {
        visible = entry.row.getAttribute("data-" + wanted[i][0]) === wanted[i][1];
      }
      entry.row.hidden = !visible;
      if (visible) {
        shown += 1;
      }
    });
    counter.textContent = shown + " of " + entries.length + " rows";
  }

  function choose(select, value) {
    var known = Array.prototype.some.call(select.options, function (option) {
      return option.value === value;
    });
    if (!known) {
      // A link may name a value this report has no rows for: show it, with no rows.
      var option = document.createElement("option");
      option.value = value;
      option.textContent = value;
      select.appendChild(option);
    }
    select.value = value;
  }

  function fromFragment() {
    var params = new URLSearchParams(window.location.hash.replace(/^#/, ""));
    text.value = params.get("q") || "";
    selects.forEach(function (select) {
      var value = params.get(select.getAttribute("data-filter"));
      if (value) {
        choose(select, value);
      } else {
        select.value = "";
      }
    });
    apply();
  }

  function toFragment() {
    var params = new URLSearchParams();
    if (text.value.trim() !== "") {
      params.set("q", text.value.trim());
    }
    selects.forEach(function (select) {
      if (select.value !== "") {
        params.set(select.getAttribute("data-filter"), select.value);
      }
    });
    var fragment = params.toString();
    var url = window.location.pathname + window.location.search + (fragment ? "#" + fragment : "");
    try {
      window.history.replaceState(null, "", url);
    } catch (ignored) {
      // Some browsers refuse history changes on file:// pages; the filters still apply.
    }
  }

  function changed() {
    apply();
    toFragment();
  }

  text.addEventListener("input", changed);
  selects.forEach(function (select) {
    select.addEventListener("change", changed);
  });
  window.addEventListener("hashchange", fromFragment);

  var headers = Array.prototype.slice.call(table.tHead.rows[0].cells);
  function sortBy(column) {
    var header = headers[column];
    var ascending = header.getAttribute("aria-sort") !== "ascending";
    var numeric = header.getAttribute("data-type") === "number";
    function key(entry) {
      var cell = entry.row.cells[column];
      var value = cell.hasAttribute("data-v") ? cell.getAttribute("data-v") : cell.textContent;
      return numeric ? (value === "" ? -1 : Number(value)) : value.toLowerCase();
    }
    var keyed = entries.map(function (entry, index) {
      return { entry: entry, key: key(entry), index: index };
    });
    keyed.sort(function (a, b) {
      var order = a.key < b.key ? -1 : a.key > b.key ? 1 : 0;
      return (ascending ? order : -order) || a.index - b.index;
    });
    entries = keyed.map(function (item) {
      return item.entry;
    });
    var fragment = document.createDocumentFragment();
    entries.forEach(function (entry) {
      fragment.appendChild(entry.row);
    });
    body.appendChild(fragment);
    headers.forEach(function (cell) {
      cell.removeAttribute("aria-sort");
    });
    header.setAttribute("aria-sort", ascending ? "ascending" : "descending");
  }
  headers.forEach(function (header, column) {
    header.querySelector("button").addEventListener("click", function () {
      sortBy(column);
    });
  });
  headers[0].setAttribute("aria-sort", "descending");

  fromFragment();
})();
