/* The SMTP account form: choosing a provider fills in its server, port, security and limits.
   The presets come from the select's data-presets attribute (senders/presets.py); no inline script. */
(function () {
  'use strict';
  function setup() {
    var select = document.getElementById('id_preset');
    if (!select || !select.dataset.presets) { return; }
    var presets = JSON.parse(select.dataset.presets);
    var fields = ['host', 'port', 'security', 'limit_per_second', 'limit_per_hour', 'limit_per_day'];
    select.addEventListener('change', function () {
      var preset = presets[select.value];
      if (!preset) { return; }
      fields.forEach(function (name) {
        var input = document.getElementById('id_' + name);
        if (input && (name !== 'host' || preset.host)) { input.value = preset[name]; }
      });
    });
  }
  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', setup);
  } else {
    setup();
  }
})();
