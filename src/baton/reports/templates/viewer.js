(function () {
  "use strict";
  var source = document.getElementById("baton-traces");
  var panel = document.getElementById("viewer");
  var body = document.getElementById("viewer-body");
  var traces = source ? JSON.parse(source.textContent) : [];

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }

  function pretty(value) {
    if (typeof value === "string") { return value; }
    return JSON.stringify(value, null, 2);
  }

  function block(parent, title, value, open) {
    var details = el("details");
    if (open) { details.open = true; }
    details.appendChild(el("summary", null, title));
    details.appendChild(el("pre", null, pretty(value)));
    parent.appendChild(details);
  }

  function facts(parent, pairs) {
    var dl = el("dl");
    pairs.forEach(function (pair) {
      if (pair[1] === null || pair[1] === undefined || pair[1] === "") { return; }
      dl.appendChild(el("dt", null, pair[0]));
      dl.appendChild(el("dd", null, pair[1]));
    });
    parent.appendChild(dl);
  }

  function show(index) {
    var t = traces[index];
    if (!t) { return; }
    body.replaceChildren();
    var head = el("h2", null, t.task_id);
    body.appendChild(head);
    var sub = el("p", "n", t.config + (t.simulated ? " (simulated)" : "") + " · trial " + t.trial + " · " + t.mode);
    body.appendChild(sub);
    facts(body, [["status", t.status], ["failure category", t.failure_category],
                 ["first divergent hop", t.first_divergent_hop], ["infrastructure error", t.infra_error],
                 ["latency", t.latency_s.toFixed(2) + " s"], ["cost", "$" + t.cost_usd.toFixed(4)],
                 ["run", t.run_id]]);
    if (t.failed_checks.length) {
      body.appendChild(el("h3", null, "Failed checks"));
      var list = el("ul", "checks");
      t.failed_checks.forEach(function (c) {
        list.appendChild(el("li", null, c.detail ? c.name + ": " + c.detail : c.name));
      });
      body.appendChild(list);
    }
    var verdicts = t.hop_verdicts || [];
    if (verdicts.length) {
      body.appendChild(el("h3", null, "Did each hop do its job?"));
      var hopList = el("ul", "hop-verdicts");
      verdicts.forEach(function (v) {
        var mark = v.ok === null ? "n/a" : (v.ok ? "yes" : "NO");
        hopList.appendChild(el("li", null, v.hop + ": " + mark + (v.detail ? " (" + v.detail + ")" : "")));
      });
      body.appendChild(hopList);
    }
    Object.keys(t.choices || {}).forEach(function (name) {
      body.appendChild(el("p", "n", "model selection " + name + ": " + t.choices[name]));
    });
    body.appendChild(el("h3", null, "Answer"));
    body.appendChild(el("pre", "answer", t.answer || "(no answer)"));
    body.appendChild(el("h3", null, "Hops (" + t.hops.length + ")"));
    var hops = el("ol", "hops");
    t.hops.forEach(function (h, i) {
      var item = el("li", "hop" + (h.error ? " failed" : ""));
      var top = el("div", "hop-head");
      top.appendChild(el("span", "n", "#" + (i + 1)));
      top.appendChild(el("span", "kind", h.kind));
      top.appendChild(el("strong", null, h.name));
      if (h.purpose) { top.appendChild(el("span", "n", h.purpose)); }
      top.appendChild(el("span", "n", h.latency_s.toFixed(2) + " s"));
      if (h.vendor || h.model) { top.appendChild(el("span", "n", [h.vendor, h.model].filter(Boolean).join(" / "))); }
      if (h.isolated) { top.appendChild(el("span", "n", "isolated (gold inputs)")); }
      if (h.truncated) { top.appendChild(el("span", "bad", "cut at the token limit")); }
      item.appendChild(top);
      if (h.error) { item.appendChild(el("p", "err", (h.infra_error ? "infrastructure error: " : "error: ") + h.error)); }
      block(item, "input", h.input, false);
      block(item, "output", h.output, true);
      hops.appendChild(item);
    });
    body.appendChild(hops);
    block(body, "Final state", t.final_state, false);
    panel.hidden = false;
    panel.scrollTop = 0;
    panel.focus();
  }

  function close() { panel.hidden = true; }

  document.addEventListener("click", function (event) {
    var link = event.target.closest("a[data-trace]");
    if (link) { show(Number(link.getAttribute("data-trace"))); }
  });
  document.getElementById("viewer-close").addEventListener("click", close);
  document.addEventListener("keydown", function (event) { if (event.key === "Escape") { close(); } });
  function fromHash() {
    var match = /^#run-(\d+)$/.exec(window.location.hash);
    if (match) { show(Number(match[1])); }
  }
  window.addEventListener("hashchange", fromHash);
  fromHash();
}());
