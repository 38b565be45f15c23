/* МЦУ: small progressive enhancements; every page also works without this script. */
(function () {
  "use strict";

  var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";

  function $(sel, root) { return (root || document).querySelector(sel); }
  function $$(sel, root) { return Array.prototype.slice.call((root || document).querySelectorAll(sel)); }

  function typing(el) {
    if (!el) return false;
    var tag = el.tagName;
    return tag === "INPUT" && el.type !== "checkbox" && el.type !== "radio" ||
      tag === "TEXTAREA" || tag === "SELECT" || el.isContentEditable;
  }

  /* Forms that ask before acting. */
  document.addEventListener("submit", function (ev) {
    var form = ev.target;
    var question = form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) ev.preventDefault();
  }, true);

  /* Executors offered only for the chosen department. */
  function filterExecutors(form) {
    var dept = $("[data-dept]", form);
    var execs = $("[data-executors]", form);
    if (!dept || !execs) return;
    $$("option[data-dept]", execs).forEach(function (opt) {
      var show = !dept.value || opt.getAttribute("data-dept") === dept.value;
      opt.hidden = !show;
      opt.disabled = !show;
      if (!show && opt.selected) execs.value = "";
    });
  }
  document.addEventListener("change", function (ev) {
    if (ev.target.matches("[data-dept]")) filterExecutors(ev.target.form || ev.target.closest("form"));
    if (ev.target.matches("[data-check-all]")) {
      $$('input[name="ids"]').forEach(function (box) { box.checked = ev.target.checked; });
    }
  });
  function initForms(root) { $$("form", root).forEach(filterExecutors); }

  /* Partial updates: a form with data-partial="#id" replaces that element with the answer. */
  var busy = 0;
  document.addEventListener("submit", function (ev) {
    var form = ev.target;
    var target = form.getAttribute("data-partial");
    if (ev.defaultPrevented || !target || !window.fetch) return;
    ev.preventDefault();
    var data = new FormData(form);
    if (ev.submitter && ev.submitter.name) data.append(ev.submitter.name, ev.submitter.value);
    busy += 1;
    fetch(form.action, {
      method: "POST", body: data, credentials: "same-origin",
      headers: { "X-Partial": "1", "X-CSRF-Token": csrf }
    }).then(function (resp) {
      return resp.text().then(function (text) { return { ok: resp.ok, text: text }; });
    }).then(function (res) {
      var el = $(target);
      if (!res.ok) { window.alert(res.text || "Не удалось выполнить действие"); return; }
      if (el) {
        el.outerHTML = res.text;
        var fresh = $(target);
        if (fresh) { initForms(fresh); select(fresh); }
      }
    }).catch(function () {
      window.alert("Нет связи с сервером. Попробуйте ещё раз.");
    }).finally(function () { busy -= 1; });
  });

  /* Triage: the list refreshes itself unless the operator is busy with it. */
  var queue = $("#queue[data-refresh]");
  var status = $("[data-live-status]");
  function paused() {
    if (!queue) return true;
    if (busy > 0 || document.hidden) return true;
    var active = document.activeElement;
    if (active && typing(active) && (queue.contains(active) || $("#bulk").contains(active))) return true;
    if ($$('input[name="ids"]:checked').length) return true;
    var help = $("#help");
    return Boolean(help && help.open);
  }
  function refresh() {
    if (paused()) {
      if (status) status.textContent = "обновление на паузе, пока вы работаете со списком";
      return;
    }
    var current = $(".qi.current");
    var keep = current ? current.getAttribute("data-id") : null;
    fetch(queue.getAttribute("data-src"), { credentials: "same-origin", headers: { "X-Partial": "1" } })
      .then(function (resp) { if (!resp.ok) throw new Error(resp.status); return resp.text(); })
      .then(function (html) {
        if (paused()) return;
        queue.innerHTML = html;
        initForms(queue);
        if (keep) { var again = $('.qi[data-id="' + keep + '"]'); if (again) again.classList.add("current"); }
        if (status) status.textContent = "обновлено в " + new Date().toLocaleTimeString("ru-RU");
      })
      .catch(function () { if (status) status.textContent = "нет связи с сервером, повторим позже"; });
  }
  if (queue) window.setInterval(refresh, 1000 * Number(queue.getAttribute("data-refresh") || 20));

  /* Keyboard: j/k move, x mark, a assign, b block, m merge, Enter/o open, ? help. */
  function items() { return $$(".qi"); }
  function select(item) {
    items().forEach(function (el) { el.classList.remove("current"); });
    if (!item) return;
    item.classList.add("current");
    item.focus({ preventScroll: true });
    item.scrollIntoView({ block: "nearest" });
  }
  function move(step) {
    var list = items();
    if (!list.length) return;
    var index = list.indexOf($(".qi.current"));
    select(list[Math.max(0, Math.min(list.length - 1, index + step))]);
  }
  function focusKey(key) {
    var item = $(".qi.current") || items()[0];
    if (!item) return;
    select(item);
    var field = $('[data-key="' + key + '"]', item);
    if (field) field.focus();
  }
  document.addEventListener("keydown", function (ev) {
    if (!$(".qlist") || ev.ctrlKey || ev.metaKey || ev.altKey) return;
    var help = $("#help");
    if (typing(document.activeElement)) {
      if (ev.key === "Escape") { document.activeElement.blur(); }
      return;
    }
    var current = $(".qi.current");
    switch (ev.key) {
      case "j": move(1); break;
      case "k": move(-1); break;
      case "a": focusKey("a"); break;
      case "b": focusKey("b"); break;
      case "m": focusKey("m"); break;
      case "x": if (current) { var box = $('input[name="ids"]', current); box.checked = !box.checked; } break;
      case "o": case "Enter": if (current) window.location = current.getAttribute("data-href"); break;
      case "?": if (help && help.showModal) help.showModal(); break;
      default: return;
    }
    ev.preventDefault();
  });
  document.addEventListener("click", function (ev) {
    if (ev.target.matches("[data-help]")) { var help = $("#help"); if (help && help.showModal) help.showModal(); }
    var item = ev.target.closest && ev.target.closest(".qi");
    if (item && !item.classList.contains("current")) {
      items().forEach(function (el) { el.classList.remove("current"); });
      item.classList.add("current");
    }
  });

  /* Answer editor: «Проверить на отписку» and a confirmation before publishing a flagged text. */
  $$("[data-answer-editor]").forEach(function (form) {
    var result = $("[data-check-result]", form);
    var text = $("textarea", form);
    var flagged = null;
    function show(data) {
      flagged = data.flagged;
      result.innerHTML = "";
      var box = document.createElement("div");
      box.className = data.flagged ? "warnbox" : "okbox";
      box.setAttribute("role", data.flagged ? "alert" : "status");
      var title = document.createElement("b");
      title.textContent = data.flagged ? "Похоже на отписку:" : "Замечаний нет: есть действие, срок и ответственный.";
      box.appendChild(title);
      if (data.flagged) {
        var list = document.createElement("ul");
        data.reasons.forEach(function (reason) {
          var li = document.createElement("li");
          li.textContent = reason;
          list.appendChild(li);
        });
        box.appendChild(list);
      }
      result.appendChild(box);
    }
    function check() {
      var data = new FormData();
      data.append("text", text.value);
      return fetch(form.getAttribute("data-check-url"), {
        method: "POST", body: data, credentials: "same-origin", headers: { "X-CSRF-Token": csrf }
      }).then(function (resp) { return resp.json(); }).then(function (json) { show(json); return json; });
    }
    $("[data-check]", form).addEventListener("click", function () { check(); });
    text.addEventListener("input", function () {
      flagged = null;
      var confirmed = $('input[name="confirmed"]', form);
      if (confirmed) confirmed.remove();
    });
    form.addEventListener("submit", function (ev) {
      if ($('input[name="confirmed"]', form)) return;
      if (flagged === false) return;
      ev.preventDefault();
      check().then(function (json) {
        if (json.flagged && !window.confirm("Ответ похож на отписку:\n— " + json.reasons.join("\n— ") + "\n\nОпубликовать всё равно?")) return;
        var field = document.createElement("input");
        field.type = "hidden"; field.name = "confirmed"; field.value = "1";
        form.appendChild(field);
        form.submit();
      }).catch(function () { form.submit(); });
    });
  });

  $$("[data-back]").forEach(function (link) {
    link.addEventListener("click", function (ev) { if (history.length > 1) { ev.preventDefault(); history.back(); } });
  });

  initForms(document);
})();
