"use strict";
(function () {
  var root = document.getElementById("app");
  var url = document.body.getAttribute("data-openapi");
  var methods = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];
  var doc = null;

  /* Every string from the document goes through textContent: nothing is parsed as HTML. */
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function add(parent, child) {
    parent.appendChild(child);
    return child;
  }
  function clear(e) {
    while (e.firstChild) e.removeChild(e.firstChild);
  }
  function fail(msg) {
    clear(root);
    add(root, el("p", "error", msg));
  }
  /* Follow local references ("#/components/schemas/User") to what they point at. */
  function resolve(obj) {
    for (var hops = 0; obj && typeof obj.$ref === "string" && hops < 20; hops++) {
      if (obj.$ref.indexOf("#/") !== 0) break;
      var parts = obj.$ref.slice(2).split("/"), cur = doc;
      for (var i = 0; i < parts.length && cur; i++) {
        var key = parts[i].replace(/~1/g, "/").replace(/~0/g, "~");
        cur = Object.prototype.hasOwnProperty.call(cur, key) ? cur[key] : null;
      }
      if (!cur) break;
      obj = cur;
    }
    return obj;
  }
  function refName(s) {
    return s && typeof s.$ref === "string" ? s.$ref.split("/").pop() : "";
  }
  function typeOf(s) {
    var r = resolve(s) || {};
    var t = Array.isArray(r.type) ? r.type.join(" | ") : r.type;
    if (t === "array" && r.items) return "array of " + typeOf(r.items);
    return t || refName(s) || (r.enum ? "enum" : "any");
  }
  function schemaBlock(s) {
    var box = el("div", "schema");
    var name = refName(s);
    if (name) add(box, el("div", "schema-name", name));
    add(box, el("pre", null, JSON.stringify(resolve(s), null, 2)));
    return box;
  }
  function jsonSchema(content) {
    var media = content && content["application/json"];
    return media && media.schema ? media.schema : null;
  }
  function section(parent, title) {
    var s = add(parent, el("section", "part"));
    add(s, el("h4", null, title));
    return s;
  }
  function parameters(parent, params) {
    var table = add(section(parent, "Parameters"), el("table"));
    var head = add(table, el("tr"));
    ["Name", "In", "Type", "Required", "Description"].forEach(function (h) {
      add(head, el("th", null, h));
    });
    params.forEach(function (p) {
      p = resolve(p);
      var row = add(table, el("tr", p.deprecated ? "deprecated" : ""));
      add(row, el("td", "mono", p.name));
      add(row, el("td", null, p.in));
      add(row, el("td", "mono", typeOf(p.schema)));
      add(row, el("td", null, p.required ? "yes" : "no"));
      add(row, el("td", null, p.description || ""));
    });
  }
  function operation(parent, path, method, op) {
    var box = add(parent, el("details", "op " + method + (op.deprecated ? " deprecated" : "")));
    var sum = add(box, el("summary"));
    add(sum, el("span", "method", method.toUpperCase()));
    add(sum, el("span", "path mono", path));
    if (op.summary) add(sum, el("span", "summary", op.summary));
    if (op.deprecated) add(sum, el("span", "flag", "deprecated"));
    if (op.security && op.security.length) add(sum, el("span", "flag", "auth"));
    add(box, el("div", "opid mono", op.operationId || ""));
    if (op.description) add(box, el("p", "description", op.description));
    if (op.security && op.security.length) {
      var sec = add(section(box, "Security (any of)"), el("ul"));
      op.security.forEach(function (req) {
        Object.keys(req).forEach(function (name) {
          var scopes = req[name] && req[name].length ? ": " + req[name].join(", ") : "";
          add(sec, el("li", "mono", name + scopes));
        });
      });
    }
    if (op.parameters && op.parameters.length) parameters(box, op.parameters);
    if (op.requestBody) {
      var body = resolve(op.requestBody);
      var bs = section(box, "Request body" + (body.required ? " (required)" : ""));
      var schema = jsonSchema(body.content);
      if (schema) add(bs, schemaBlock(schema));
    }
    var rs = section(box, "Responses");
    Object.keys(op.responses || {}).forEach(function (status) {
      var r = resolve(op.responses[status]);
      var line = add(rs, el("div", "response"));
      add(line, el("span", "status mono", status));
      add(line, el("span", null, r.description || ""));
      var schema = jsonSchema(r.content);
      if (schema) add(rs, schemaBlock(schema));
    });
  }
  function render() {
    clear(root);
    var info = doc.info || {};
    var header = add(root, el("header"));
    add(header, el("h1", null, info.title || "API"));
    add(header, el("span", "version", info.version || ""));
    var raw = add(header, el("a", "raw", "OpenAPI document"));
    raw.href = url;
    if (info.description) add(root, el("p", "description", info.description));
    (doc.servers || []).forEach(function (s) {
      add(root, el("div", "server mono", s.url));
    });
    var groups = {}, order = [];
    (doc.tags || []).forEach(function (t) {
      groups[t.name] = [];
      order.push(t.name);
    });
    Object.keys(doc.paths || {}).forEach(function (path) {
      var item = doc.paths[path];
      methods.forEach(function (m) {
        if (!item[m]) return;
        var tags = item[m].tags && item[m].tags.length ? item[m].tags : ["default"];
        tags.forEach(function (t) {
          if (!groups[t]) {
            groups[t] = [];
            order.push(t);
          }
          groups[t].push([path, m, item[m]]);
        });
      });
    });
    order.forEach(function (t) {
      if (!groups[t].length) return;
      var g = add(root, el("section", "tag"));
      add(g, el("h2", null, t));
      groups[t].forEach(function (o) {
        operation(g, o[0], o[1], o[2]);
      });
    });
    if (!order.length) add(root, el("p", "note", "This API has no documented operations."));
  }
  fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
    .then(function (r) {
      if (!r.ok) throw new Error("GET " + url + ": HTTP " + r.status);
      return r.json();
    })
    .then(function (d) {
      doc = d;
      render();
    })
    .catch(function (e) {
      fail("Could not load the API description: " + e.message);
    });
})();
