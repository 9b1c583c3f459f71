/* Starts the vendored Swagger UI on the API docs page (core/api_docs.html). The OpenAPI URL and
   the CSRF token (for "Try it out" with the browser session) come from data- attributes: no
   inline script, so the Content-Security-Policy needs no 'unsafe-inline'. */
(function () {
  "use strict";
  var box = document.getElementById("swagger-ui");
  if (!box || typeof SwaggerUIBundle === "undefined") { return; }
  var csrf = box.getAttribute("data-csrf-token");
  SwaggerUIBundle({
    url: box.getAttribute("data-openapi-url"),
    dom_id: "#swagger-ui",
    layout: "BaseLayout",
    deepLinking: true,
    validatorUrl: null,   // no badge fetched from an outside validator
    presets: [SwaggerUIBundle.presets.apis],
    requestInterceptor: function (req) {
      if (csrf) { req.headers["X-CSRFToken"] = csrf; }
      return req;
    }
  });
})();
