// Small DOM helpers: elements built with textContent (never HTML from the API), badges, charts.

type Child = Node | string | number | null | undefined | false | Child[];
type Attrs = Record<string, string | number | boolean | null | undefined | EventListener>;

export function h(tag: string, attrs: Attrs = {}, ...children: Child[]): HTMLElement {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2), value as EventListener);
    } else if (value === true) {
      el.setAttribute(key, "");
    } else {
      el.setAttribute(key, String(value));
    }
  }
  append(el, children);
  return el;
}

function append(el: Node, children: Child[]) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.appendChild(typeof child === "object" ? child : document.createTextNode(String(child)));
  }
}

const STATUS_CLASS: Record<string, string> = {
  deployed: "ok",
  promoted: "ok",
  completed: "ok",
  active: "ok",
  approved: "ok",
  Healthy: "ok",
  in_progress: "run",
  progressing: "run",
  processing: "run",
  scheduled: "wait",
  pending: "wait",
  held: "wait",
  awaiting_approval: "wait",
  Inconclusive: "wait",
  skipped: "off",
  not_required: "off",
  failed: "bad",
  rolled_back: "bad",
  rejected: "bad",
  aborted: "bad",
  Unhealthy: "bad",
};
const STATUS_MARK: Record<string, string> = { ok: "✓", run: "▶", wait: "◷", off: "–", bad: "✕" };

/** A status as coloured mark plus its word: colour is never the only signal. */
export function badge(status: string | null | undefined, label?: string): HTMLElement {
  const kind = STATUS_CLASS[status || ""] || "off";
  return h(
    "span",
    { class: `badge ${kind}`, "data-status": status || "" },
    h("span", { "aria-hidden": "true" }, STATUS_MARK[kind]),
    ` ${label || (status || "unknown").replace(/_/g, " ")}`,
  );
}

export function when(text: string | null | undefined): HTMLElement | string {
  if (!text) return "—";
  const d = new Date(text);
  return h("time", { datetime: text, title: text }, d.toISOString().replace("T", " ").slice(0, 16));
}

export function duration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined) return "—";
  if (seconds < 90) return `${Math.round(seconds)} s`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min`;
  if (seconds < 172800) return `${(seconds / 3600).toFixed(1)} h`;
  return `${(seconds / 86400).toFixed(1)} days`;
}

export function table(headers: string[], rows: Child[][], caption?: string): HTMLElement {
  return h(
    "table",
    {},
    caption ? h("caption", {}, caption) : null,
    h("thead", {}, h("tr", {}, headers.map((t) => h("th", { scope: "col" }, t)))),
    h(
      "tbody",
      {},
      rows.length
        ? rows.map((r) => h("tr", {}, r.map((c) => h("td", {}, c))))
        : h("tr", {}, h("td", { colspan: headers.length, class: "empty" }, "nothing here")),
    ),
  );
}

/** A labelled form control. */
export function field(label: string, control: HTMLElement): HTMLElement {
  const id = control.id || `f-${Math.random().toString(36).slice(2, 9)}`;
  control.id = id;
  return h("span", { class: "field" }, h("label", { for: id }, label), control);
}

// -- markdown: escape everything, then format a small subset ------------------------------

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function inline(text: string): string {
  return escapeHtml(text)
    .replace(/`([^`]+)`/g, "<code>$1</code>")
    .replace(/\*\*([^*]+)\*\*/g, "<strong>$1</strong>")
    .replace(/\*([^*]+)\*/g, "<em>$1</em>")
    .replace(
      /\[([^\]]+)\]\((https?:\/\/[^\s)"]+)\)/g,
      '<a href="$2" rel="noopener noreferrer" target="_blank">$1</a>',
    );
}

/** Markdown to HTML: the text is escaped first, so nothing in it becomes markup of its own. */
export function markdown(source: string): HTMLElement {
  const out: string[] = [];
  let list: string | null = null;
  let code: string[] | null = null;
  const closeList = () => {
    if (list) out.push(`</${list}>`);
    list = null;
  };
  for (const line of source.replace(/\r\n?/g, "\n").split("\n")) {
    if (line.startsWith("```")) {
      if (code) {
        out.push(`<pre><code>${escapeHtml(code.join("\n"))}</code></pre>`);
        code = null;
      } else {
        closeList();
        code = [];
      }
      continue;
    }
    if (code) {
      code.push(line);
      continue;
    }
    const heading = /^(#{1,4})\s+(.*)$/.exec(line);
    const bullet = /^\s*[-*]\s+(.*)$/.exec(line);
    const numbered = /^\s*\d+[.)]\s+(.*)$/.exec(line);
    if (heading) {
      closeList();
      const level = Math.min(6, heading[1].length + 3);
      out.push(`<h${level}>${inline(heading[2])}</h${level}>`);
    } else if (bullet || numbered) {
      const kind = bullet ? "ul" : "ol";
      if (list !== kind) {
        closeList();
        out.push(`<${kind}>`);
        list = kind;
      }
      out.push(`<li>${inline((bullet || numbered)![1])}</li>`);
    } else if (!line.trim()) {
      closeList();
    } else {
      closeList();
      out.push(`<p>${inline(line)}</p>`);
    }
  }
  closeList();
  if (code) out.push(`<pre><code>${escapeHtml((code as string[]).join("\n"))}</code></pre>`);
  const div = h("div", { class: "markdown" });
  div.innerHTML = out.join("");
  return div;
}

// -- charts: inline SVG ----------------------------------------------------------------

const SVG = "http://www.w3.org/2000/svg";

function s(tag: string, attrs: Record<string, string | number>, text?: string): SVGElement {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  if (text !== undefined) el.textContent = text;
  return el;
}

export type Series = { label: string; values: (number | null)[]; cls: string; dash?: boolean };

/** A line chart of series over x labels, with optional horizontal threshold line. */
export function lineChart(
  title: string,
  xLabels: string[],
  series: Series[],
  threshold: number | null,
  unit: string,
): HTMLElement {
  const W = 460;
  const H = 180;
  const L = 48;
  const B = 24;
  const all = series.flatMap((x) => x.values).filter((v): v is number => v !== null);
  const max = Math.max(threshold ?? 0, ...all, 1e-9) * 1.15;
  const n = Math.max(xLabels.length, 2);
  const x = (i: number) => L + ((W - L - 8) * i) / (n - 1);
  const y = (v: number) => H - B - ((H - B - 8) * v) / max;
  const svg = s("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", class: "chart" }) as SVGSVGElement;
  svg.appendChild(s("title", {}, title));
  svg.appendChild(s("line", { x1: L, y1: H - B, x2: W - 8, y2: H - B, class: "axis" }));
  for (const frac of [0, 0.5, 1]) {
    const v = (max / 1.15) * frac;
    svg.appendChild(s("text", { x: L - 4, y: y(v) + 4, "text-anchor": "end", class: "tick" }, fmt(v)));
  }
  xLabels.forEach((label, i) => {
    if (xLabels.length <= 12 || i % Math.ceil(xLabels.length / 12) === 0) {
      svg.appendChild(s("text", { x: x(i), y: H - 6, "text-anchor": "middle", class: "tick" }, label));
    }
  });
  if (threshold !== null) {
    svg.appendChild(s("line", { x1: L, x2: W - 8, y1: y(threshold), y2: y(threshold), class: "threshold" }));
    svg.appendChild(
      s("text", { x: W - 10, y: y(threshold) - 4, "text-anchor": "end", class: "tick" }, `threshold ${fmt(threshold)} ${unit}`),
    );
  }
  for (const serie of series) {
    const points = serie.values
      .map((v, i) => (v === null ? null : `${x(i)},${y(v)}`))
      .filter(Boolean)
      .join(" ");
    if (points) svg.appendChild(s("polyline", { points, class: `line ${serie.cls}${serie.dash ? " dash" : ""}` }));
    serie.values.forEach((v, i) => {
      if (v !== null) svg.appendChild(s("circle", { cx: x(i), cy: y(v), r: 2.5, class: `dot ${serie.cls}` }));
    });
  }
  const legend = h(
    "p",
    { class: "legend" },
    series.map((x) => h("span", { class: `key ${x.cls}` }, h("span", { class: "swatch", "aria-hidden": "true" }), x.label)),
    threshold !== null ? h("span", { class: "key threshold" }, h("span", { class: "swatch", "aria-hidden": "true" }), "threshold") : null,
  );
  const figure = h("figure", { class: "chart-box" }, h("figcaption", {}, title));
  figure.appendChild(svg);
  figure.appendChild(legend);
  return figure;
}

/** Stacked bars per x label: each stack is [value, cls, label]. */
export function barChart(title: string, xLabels: string[], stacks: { label: string; cls: string; values: number[] }[]): HTMLElement {
  const W = 640;
  const H = 180;
  const L = 32;
  const B = 24;
  const totals = xLabels.map((_, i) => stacks.reduce((sum, st) => sum + (st.values[i] || 0), 0));
  const max = Math.max(1, ...totals);
  const bw = (W - L - 8) / Math.max(xLabels.length, 1);
  const svg = s("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", class: "chart" }) as SVGSVGElement;
  svg.appendChild(s("title", {}, title));
  svg.appendChild(s("line", { x1: L, y1: H - B, x2: W - 8, y2: H - B, class: "axis" }));
  svg.appendChild(s("text", { x: L - 4, y: 14, "text-anchor": "end", class: "tick" }, String(max)));
  xLabels.forEach((label, i) => {
    let base = H - B;
    for (const st of stacks) {
      const v = st.values[i] || 0;
      if (!v) continue;
      const height = ((H - B - 8) * v) / max;
      base -= height;
      const rect = s("rect", { x: L + i * bw + 1, y: base, width: Math.max(bw - 2, 1), height, class: `bar ${st.cls}` });
      rect.appendChild(s("title", {}, `${label}: ${v} ${st.label}`));
      svg.appendChild(rect);
    }
    if (xLabels.length <= 14 || i % Math.ceil(xLabels.length / 10) === 0) {
      svg.appendChild(s("text", { x: L + i * bw + bw / 2, y: H - 6, "text-anchor": "middle", class: "tick" }, label));
    }
  });
  const figure = h("figure", { class: "chart-box wide" }, h("figcaption", {}, title));
  figure.appendChild(svg);
  figure.appendChild(
    h("p", { class: "legend" }, stacks.map((st) => h("span", { class: `key ${st.cls}` }, h("span", { class: "swatch", "aria-hidden": "true" }), st.label))),
  );
  return figure;
}

function fmt(v: number): string {
  if (v >= 100) return String(Math.round(v));
  if (v >= 10) return v.toFixed(1);
  return v.toFixed(2).replace(/\.?0+$/, "") || "0";
}
