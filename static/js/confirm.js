// Forms marked data-confirm="question" ask before they are sent (in place of inline onsubmit handlers,
// which the Content-Security-Policy refuses).
(function () {
  "use strict";
  document.addEventListener("submit", function (event) {
    var question = event.target.getAttribute && event.target.getAttribute("data-confirm");
    if (question && !window.confirm(question)) event.preventDefault();
  });
})();
