/* Vestnik's own script: after a rejected submit, focus goes to what needs fixing (WCAG 3.3.1).
   The first invalid field when there is one (its label, error and help are read out through aria-describedby),
   otherwise the summary of the form's own errors. Nothing else moves focus. */
(function () {
  'use strict';
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
})();
