// The mailing form's audience: search-as-you-type recipient picker, chips, the chosen recipients by pages,
// and the live count of unique addresses. No inline scripts or handlers (CSP); without JavaScript the lists
// and "all my recipients" still work, and this file is simply not run.
(function () {
  "use strict";
  var box = document.querySelector("[data-audience]");
  if (!box) { return; }
  var form = box.closest("form");
  var picker = box.querySelector("[data-picker]");
  var search = document.getElementById("picker-search");
  var results = document.getElementById("picker-results");
  var next = box.querySelector("[data-picker-next]");
  var chips = document.getElementById("picker-chips");
  var count = document.getElementById("audience-count");
  var chosenNext = box.querySelector("[data-chosen-next]");
  var mailing = box.dataset.mailing || "";
  var lang = document.documentElement.lang || "ru";
  var page = 1;
  var timer = null;
  var countTimer = null;

  picker.hidden = false;
  box.querySelectorAll("[data-picker-nojs]").forEach(function (el) { el.hidden = true; });
  chips.querySelectorAll("button").forEach(function (el) { el.hidden = false; });
  if (chosenNext) { chosenNext.hidden = false; }

  function getJSON(url, params) {
    return fetch(url + "?" + params.toString(), { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) { throw new Error(String(response.status)); }
        return response.json();
      });
  }

  function label(item) {
    return item.full_name ? item.email + " — " + item.full_name : item.email;
  }

  function addChip(item) {
    if (chips.querySelector('[data-chip="' + item.id + '"]')) { return; }
    var chip = document.createElement("span");
    chip.className = "badge text-bg-light border d-inline-flex align-items-center gap-1";
    chip.dataset.chip = item.id;
    chip.appendChild(document.createTextNode(item.email));
    var input = document.createElement("input");
    input.type = "hidden";
    input.name = "recipients";
    input.value = item.id;
    chip.appendChild(input);
    var remove = document.createElement("button");
    remove.type = "button";
    remove.className = "btn-close btn-close-sm";
    remove.setAttribute("aria-label", (lang.indexOf("en") === 0 ? "Remove " : "Убрать ") + item.email);
    chip.appendChild(remove);
    chips.appendChild(chip);
    recount();
  }

  chips.addEventListener("click", function (event) {
    var button = event.target.closest("button");
    if (button) { button.closest("[data-chip]").remove(); recount(); search.focus(); }
  });

  function show(data, append) {
    if (!append) { results.replaceChildren(); }
    data.results.forEach(function (item) {
      var li = document.createElement("li");
      li.className = "list-group-item list-group-item-action p-0";
      var button = document.createElement("button");
      button.type = "button";
      button.className = "btn btn-link text-start w-100 text-decoration-none";
      button.textContent = label(item);
      // Focus goes back to the search: the picked button disappears, and the next name is typed there.
      button.addEventListener("click", function () { addChip(item); li.remove(); search.focus(); });
      li.appendChild(button);
      results.appendChild(li);
    });
    next.hidden = !data.more;
  }

  function find(append) {
    var params = new URLSearchParams({ q: search.value.trim(), page: String(page) });
    getJSON(box.dataset.searchUrl, params).then(function (data) { show(data, append); }).catch(function () {});
  }

  search.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(function () { page = 1; find(false); }, 250);
  });
  search.addEventListener("keydown", function (event) {
    if (event.key === "Enter") { event.preventDefault(); }  // Enter searches; it never submits the mailing
  });
  next.addEventListener("click", function () { page += 1; find(true); });

  if (chosenNext) {
    chosenNext.addEventListener("click", function () {
      var list = document.getElementById("id_recipients_remove");
      var params = new URLSearchParams({ mailing: mailing, page: chosenNext.dataset.page });
      getJSON(box.dataset.searchUrl, params).then(function (data) {
        var n = list.querySelectorAll("input").length;
        data.results.forEach(function (item) {
          var div = document.createElement("div");
          var lab = document.createElement("label");
          var input = document.createElement("input");
          input.type = "checkbox";
          input.name = "recipients_remove";
          input.value = item.id;
          input.id = "id_recipients_remove_" + n;
          input.className = "form-check-input";
          lab.htmlFor = input.id;
          lab.appendChild(input);
          lab.appendChild(document.createTextNode(" " + item.email));
          div.appendChild(lab);
          list.appendChild(div);
          n += 1;
        });
        chosenNext.dataset.page = String(Number(chosenNext.dataset.page) + 1);
        chosenNext.hidden = !data.more;
      }).catch(function () {});
    });
  }

  function recount() {
    clearTimeout(countTimer);
    countTimer = setTimeout(function () {
      var params = new URLSearchParams();
      ["all_recipients", "clear_chosen"].forEach(function (name) {
        var field = form.querySelector('[name="' + name + '"]');
        if (field && field.checked) { params.append(name, "on"); }
      });
      form.querySelectorAll('[name="lists"]:checked, [name="recipients_remove"]:checked').forEach(function (field) {
        params.append(field.name, field.value);
      });
      chips.querySelectorAll('input[name="recipients"]').forEach(function (field) { params.append("recipients", field.value); });
      if (mailing) { params.append("mailing", mailing); }
      getJSON(box.dataset.countUrl, params).then(function (data) {
        count.textContent = new Intl.NumberFormat(lang).format(data.count);
      }).catch(function () { count.textContent = "—"; });
    }, 150);
  }

  form.addEventListener("change", function (event) {
    if (["all_recipients", "clear_chosen", "lists", "recipients_remove"].indexOf(event.target.name) >= 0) { recount(); }
  });
  recount();
})();
