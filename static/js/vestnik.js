/* Vestnik's own behaviour. A static file, never inline: the Content-Security-Policy allows scripts from 'self' only. */
(function () {
  "use strict";

  /* After a rejected submit, focus goes to what needs fixing (WCAG 3.3.1): the first invalid field when there
     is one (its label, error and help are read out through aria-describedby), otherwise the summary of the
     form's own errors. Nothing else moves focus. */
  function focusFirstError() {
    var field = document.querySelector('main form .is-invalid, main form [aria-invalid="true"]');
    var target = field || document.querySelector('main .form-error-summary');
    if (!target) { return; }
    target.focus();
    if (target.scrollIntoView) { target.scrollIntoView({block: 'center'}); }
  }
  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', focusFirstError);
  } else {
    focusFirstError();
  }

  function csrfCookie() {
    var match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  /* A form kept by the browser (back from the "form expired" page, or from the history) carries the token of
     the session it was loaded in; the cookie holds the current one. Refreshing the token keeps what was typed
     and lets the form be sent again. */
  function refreshCsrfTokens() {
    var token = csrfCookie();
    if (!token) return;
    document.querySelectorAll('input[name="csrfmiddlewaretoken"]').forEach(function (input) {
      input.value = token;
    });
  }

  window.addEventListener("pageshow", refreshCsrfTokens);

  document.addEventListener("click", function (event) {
    var back = event.target.closest('[data-action="history-back"]');
    if (back && window.history.length > 1) {
      event.preventDefault();
      window.history.back();
    }
  });
})();
