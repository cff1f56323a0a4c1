/* Small progressive enhancement; every page works without it.
   - character counters on fields with a limit
   - autosave of section forms (the server keeps the version; conflicts are shown, never overwritten)
   - deadlines also shown in the visitor's own time zone
   - a warning before the session ends */
(function () {
  "use strict";
  var fr = document.documentElement.lang === "fr";
  var t = function (en, french) { return fr ? french : en; };

  function counters() {
    document.querySelectorAll("[data-counter-for]").forEach(function (hint) {
      var field = document.getElementById(hint.getAttribute("data-counter-for"));
      var limit = parseInt(hint.getAttribute("data-limit"), 10);
      if (!field) { return; }
      var update = function () {
        var n = field.value.length;
        hint.textContent = n + " / " + limit + " " + t("characters", "caractères");
        hint.classList.toggle("error", n > limit);
      };
      field.addEventListener("input", update);
      update();
    });
  }

  function localTimes() {
    var zone;
    try { zone = Intl.DateTimeFormat().resolvedOptions().timeZone; } catch (e) { return; }
    document.querySelectorAll("time[data-local]").forEach(function (el) {
      var when = new Date(el.getAttribute("datetime"));
      if (isNaN(when)) { return; }
      var local = when.toLocaleString(fr ? "fr-FR" : "en-GB", { dateStyle: "medium", timeStyle: "short" });
      var extra = document.createElement("span");
      extra.className = "hint";
      extra.textContent = " · " + t("your time: ", "votre heure : ") + local + " (" + zone + ")";
      el.after(extra);
    });
  }

  function autosave() {
    var form = document.querySelector("form[data-autosave]");
    if (!form || !window.fetch || !window.FormData) { return; }
    var status = form.querySelector(".autosave-status");
    var timer = null, busy = false, dirty = false, stopped = false;
    var say = function (text, bad) { if (status) { status.textContent = text; status.classList.toggle("error", !!bad); } };
    var save = function () {
      if (busy || stopped) { return; }
      busy = true; dirty = false;
      say(t("Saving…", "Enregistrement…"));
      fetch(form.action || window.location.href, {
        method: "POST", body: new FormData(form), credentials: "same-origin",
        headers: { "X-Autosave": "1", "Accept": "application/json" }
      }).then(function (response) {
        return response.json().then(function (body) { return { status: response.status, body: body }; });
      }).then(function (r) {
        busy = false;
        if (r.status === 200) {
          form.querySelector("input[name=version]").value = r.body.version;
          say(t("Saved automatically at ", "Enregistré automatiquement à ") + new Date().toLocaleTimeString());
        } else if (r.status === 409) {
          stopped = true;
          say(t("Someone else saved this section: press Save to see both versions.",
                "Quelqu'un d'autre a enregistré cette section : cliquez sur Enregistrer pour voir les deux versions."), true);
        } else if (r.status === 422) {
          say(t("Not saved yet: press Save to see what to correct.",
                "Pas encore enregistré : cliquez sur Enregistrer pour voir quoi corriger."), true);
        } else {
          stopped = true;
          say(t("Not saved: your session may have ended. Press Save; nothing is lost.",
                "Non enregistré : votre session a peut-être expiré. Cliquez sur Enregistrer ; rien n'est perdu."), true);
        }
        if (dirty) { schedule(); }
      }).catch(function () {
        busy = false;
        say(t("Offline: not saved yet. It will be tried again.", "Hors ligne : pas encore enregistré. Nouvel essai bientôt."), true);
        schedule();
      });
    };
    var schedule = function () { clearTimeout(timer); timer = setTimeout(save, 4000); };
    form.addEventListener("input", function () { dirty = true; schedule(); });
    form.addEventListener("change", function () { dirty = true; schedule(); });
    form.addEventListener("submit", function () { clearTimeout(timer); stopped = true; });
  }

  function sessionWarning() {
    var meta = document.querySelector("meta[name=session-lifetime]");
    if (!meta) { return; }
    var seconds = parseInt(meta.getAttribute("content"), 10);
    if (!seconds || seconds < 600) { return; }
    setTimeout(function () {
      var box = document.createElement("p");
      box.className = "flash error session-warning";
      box.setAttribute("role", "alert");
      box.textContent = t("Your session ends in 5 minutes. Save your work; saving keeps the session open.",
                          "Votre session se termine dans 5 minutes. Enregistrez votre travail ; enregistrer prolonge la session.");
      var main = document.getElementById("main");
      if (main) { main.insertBefore(box, main.firstChild); }
    }, (seconds - 300) * 1000);
  }

  document.addEventListener("DOMContentLoaded", function () {
    counters(); localTimes(); autosave(); sessionWarning();
  });
}());
