(function () {
  "use strict";
  var font = FONT_STACK;
  var specs = document.querySelectorAll("script[data-opskit-chart]");
  Array.prototype.forEach.call(specs, function (script) {
    var target = script.previousElementSibling;
    var figure = script.parentElement;
    function fail(err) {
      figure.setAttribute("data-opskit-error", String(err));
      target.className = "opskit-chart-error";
      target.textContent = "This chart could not be drawn: " + err;
      console.error(err);
    }
    var spec;
    try {
      spec = JSON.parse(script.textContent);
    } catch (err) {
      fail(err);
      return;
    }
    vegaEmbed(target, spec, {
      mode: script.getAttribute("data-opskit-chart"),
      renderer: "svg",
      actions: { export: true, source: false, compiled: false, editor: false },
      config: { font: font }
    }).then(function () {
      figure.setAttribute("data-opskit-rendered", "true");
    }).catch(fail);
  });
})();
