// The deployq console: one organisation at a time, every action through the public APIs.

import { ApiError, Client, Config, query } from "./api";
import { badge, barChart, duration, field, h, lineChart, markdown, table, when } from "./ui";

const cfg: Config = JSON.parse(document.getElementById("config")!.textContent || "{}");
const api = new Client(cfg);
const main = document.getElementById("main")!;
let refreshTimer: number | undefined;
let renderSerial = 0;
let flash: string | null = null;

// -- sign-in (Google OpenID Connect, ID token in the URL fragment; no outside script) ---------

function takeTokenFromFragment() {
  const params = new URLSearchParams(location.hash.slice(1));
  const token = params.get("id_token");
  if (token) {
    const nonce = sessionStorage.getItem("deployq.nonce");
    const claims = JSON.parse(atob(token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/")));
    if (claims.nonce === nonce) {
      sessionStorage.setItem("deployq.token", token);
      api.token = token;
    }
    history.replaceState(null, "", location.pathname + (sessionStorage.getItem("deployq.back") || "#/queue"));
  }
}

function signIn() {
  const nonce = crypto.getRandomValues(new Uint32Array(4)).join("-");
  sessionStorage.setItem("deployq.nonce", nonce);
  sessionStorage.setItem("deployq.back", location.hash.startsWith("#/") ? location.hash : "#/queue");
  const url =
    "https://accounts.google.com/o/oauth2/v2/auth" +
    query({
      client_id: cfg.client_id,
      response_type: "id_token",
      scope: "openid email",
      redirect_uri: location.origin + location.pathname,
      nonce,
      prompt: "select_account",
    });
  location.assign(url);
}

function signOut() {
  sessionStorage.removeItem("deployq.token");
  api.token = null;
  void start();
}

// -- shell -------------------------------------------------------------------------------

const PAGES: [string, string][] = [
  ["queue", "Queue"],
  ["approvals", "Approvals"],
  ["canaries", "Canaries"],
  ["dora", "DORA"],
  ["audit", "Audit log"],
  ["runbooks", "Runbooks"],
  ["packages", "Packages"],
];

function header() {
  const nav = document.getElementById("nav")!;
  const page = location.hash.split("/")[1] || "queue";
  nav.replaceChildren(
    ...PAGES.map(([id, label]) =>
      h("a", { href: `#/${id}`, "aria-current": page === id || (page === "deployments" && id === "queue") ? "page" : null }, label),
    ),
  );
  const who = document.getElementById("who")!;
  const orgInput = h("input", { list: "orgs", value: api.org, size: 12, autocomplete: "off" }) as HTMLInputElement;
  const orgForm = h(
    "form",
    {
      class: "org",
      onsubmit: (e: Event) => {
        e.preventDefault();
        if (orgInput.value.trim()) {
          api.setOrg(orgInput.value.trim().toLowerCase());
          void start();
        }
      },
    },
    field("Organisation", orgInput),
    h("datalist", { id: "orgs" }, cfg.organisations.map((o) => h("option", { value: o }))),
    h("button", { type: "submit" }, "Switch"),
  );
  const role = api.roleKnown
    ? h("span", { class: "role", id: "role" }, `${api.me.actor || "you"} · ${api.me.role || "no role"}`)
    : h("span", { class: "role", id: "role" }, "role unknown: the API decides each action");
  const auth = cfg.auth_enabled
    ? api.token
      ? h("button", { type: "button", onclick: signOut }, "Sign out")
      : h("button", { type: "button", onclick: signIn }, "Sign in with Google")
    : h("span", { class: "note" }, "local: auth off");
  who.replaceChildren(orgForm, role, auth);
}

function notice(text: string, kind: "error" | "ok" = "error"): HTMLElement {
  return h("p", { class: `notice ${kind}`, role: kind === "error" ? "alert" : "status" }, kind === "error" ? "Refused: " : "", text);
}

/** A button calling the API; the API's error sentence shows beside it when refused. */
function action(label: string, role: string, run: () => Promise<unknown>, after?: () => void, danger = false): HTMLElement | null {
  if (!api.can(role)) return null;
  const out = h("span", { class: "result", "aria-live": "polite" });
  const button = h("button", { type: "button", class: danger ? "danger" : "" }, label) as HTMLButtonElement;
  button.addEventListener("click", async () => {
    button.disabled = true;
    out.replaceChildren();
    try {
      await run();
      out.replaceChildren(notice(`${label}: done`, "ok"));
      if (after) {
        flash = `${label}: done`; // shown above the re-rendered page
        after();
      }
    } catch (e) {
      out.replaceChildren(notice(e instanceof Error ? e.message : String(e)));
    } finally {
      button.disabled = false;
    }
  });
  return h("span", { class: "action" }, button, out);
}

function reload() {
  void route();
}

// -- queue -------------------------------------------------------------------------------

type Dep = Record<string, any>;

function taxonomyKey(d: Dep): string {
  return [d.name, d.provider, d.cloud_account_id, d.region, d.cell].map((v) => v ?? "·").join(" / ");
}

function depRow(d: Dep) {
  const waiting = d.status === "scheduled" && d.approval_status === "pending";
  return [
    h("a", { href: `#/deployments/${d.id}` }, d.version),
    badge(waiting ? "awaiting_approval" : d.status, waiting ? "awaiting approval" : undefined),
    d.environment || "—",
    d.trigger,
    d.created_by_actor || "—",
    when(d.created_at),
  ];
}

async function queuePage(params: URLSearchParams) {
  const env = params.get("environment") || "";
  const name = params.get("name") || "";
  const pageToken = params.get("page_token") || "";
  const list = await api.raw("deployments", `/v1/deployments${query({ environment: env, name, limit: 200, page_token: pageToken })}`);
  const deployments: Dep[] = await list.json();
  const next = list.headers.get("X-Next-Page-Token");
  const groups = new Map<string, Dep[]>();
  for (const d of deployments) {
    const key = taxonomyKey(d);
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key)!.push(d);
  }
  const envInput = h("input", { name: "environment", value: env, size: 10 });
  const nameInput = h("input", { name: "name", value: name, size: 10 });
  const filters = h(
    "form",
    {
      class: "filters",
      onsubmit: (e: Event) => {
        e.preventDefault();
        location.hash = `#/queue${query({ environment: (envInput as HTMLInputElement).value, name: (nameInput as HTMLInputElement).value })}`;
      },
    },
    field("Environment", envInput),
    field("Service", nameInput),
    h("button", { type: "submit" }, "Filter"),
  );
  const sections = [...groups.entries()].map(([key, items]) => {
    const current = items.find((d) => d.status === "deployed");
    const running = items.filter((d) => d.status === "in_progress");
    const waiting = items.filter((d) => d.status === "scheduled");
    return h(
      "section",
      { class: "taxonomy", "aria-label": key },
      h("h2", {}, key),
      h(
        "p",
        { class: "summary" },
        h("span", {}, "Deployed: ", current ? h("a", { href: `#/deployments/${current.id}` }, `${current.version} (${current.environment || "—"})`) : "none"),
        h("span", {}, `In progress: ${running.length}`),
        h("span", {}, `Waiting: ${waiting.length} (${waiting.filter((d) => d.approval_status === "pending").length} awaiting approval)`),
      ),
      table(["Version", "Status", "Environment", "Trigger", "By", "Created"], items.slice(0, 12).map(depRow)),
      items.length > 12 ? h("p", { class: "note" }, `${items.length - 12} older on this page: filter by service to see them`) : null,
    );
  });
  return [
    h("h1", {}, "Queue"),
    h("p", { class: "note" }, `${deployments.length} ${pageToken ? "older" : "newest"} deployments, grouped by component (name / provider / account / region / cell).`),
    filters,
    ...sections,
    next ? h("p", {}, h("a", { href: `#/queue${query({ environment: env, name, page_token: next })}` }, "Older deployments →")) : null,
  ];
}

// -- one deployment ----------------------------------------------------------------------

function historyLine(entry: any): HTMLElement {
  const before = entry.before || {};
  const after = entry.after || {};
  const parts: (string | HTMLElement)[] = [];
  const action = String(entry.action || "").replace("deployq.deployment.", "");
  if (action === "created") parts.push(`created ${after.version || ""} (${after.trigger || ""})`);
  else if (action === "status_changed") parts.push(badge(before.status), " → ", badge(after.status));
  else parts.push(action);
  const approvals = (after.approvals || []) as any[];
  if (action === "approved" || action === "rejected") {
    const last = approvals[approvals.length - 1];
    if (last && last.comment) parts.push(` “${last.comment}”`);
  }
  if (after.notes && after.notes !== before.notes) parts.push(h("span", { class: "notes" }, ` note: ${after.notes}`));
  if (entry.override_reason) parts.push(` override: ${entry.override_reason}`);
  return h("li", {}, when(entry.time), " ", h("strong", {}, entry.actor || "system"), " ", ...parts);
}

/** Whether the signed-in person may approve: the environment policy's role or its approvers. */
async function mayApprove(d: Dep): Promise<boolean> {
  if (!api.roleKnown) return true;
  try {
    const policy = await api.get("deployments", `/v1/policies/${encodeURIComponent(d.environment || "")}`);
    return api.can(policy.approver_role || "approver") || (policy.approvers || []).includes(api.me.actor);
  } catch {
    return api.can("approver");
  }
}

async function deploymentPage(id: string) {
  const [d, history] = await Promise.all([
    api.get("deployments", `/v1/deployments/${encodeURIComponent(id)}`),
    api.get("deployments", `/v1/audit-logs${query({ resource_id: id, limit: 200 })}`).catch(() => []),
  ]);
  const comment = h("textarea", { rows: 2, cols: 40 }) as HTMLTextAreaElement;
  const target = h("input", { size: 10, placeholder: "previous" }) as HTMLInputElement;
  const path = `/v1/deployments/${encodeURIComponent(id)}`;
  const transitions: Record<string, string[]> = { scheduled: ["in_progress", "deployed", "failed"], in_progress: ["deployed", "failed"] };
  const buttons: (HTMLElement | null)[] = [];
  for (const status of transitions[d.status] || []) {
    const label = status === "in_progress" ? "Mark in progress" : `Mark ${status}`;
    buttons.push(action(label, "deployer", () => api.post("deployments", path, { status }, "PATCH"), reload, status === "failed"));
  }
  const approvalBox =
    d.approval_status === "pending" && (await mayApprove(d))
      ? h(
          "fieldset",
          {},
          h("legend", {}, "Approval"),
          field("Comment", comment),
          action("Approve", "viewer", () => api.post("deployments", `${path}/approve`, comment.value ? { comment: comment.value } : {}), reload),
          action("Reject", "viewer", () => api.post("deployments", `${path}/reject`, { comment: comment.value }), reload, true),
        )
      : null;
  const rollbackBox = api.can("deployer") && !["skipped", "rolled_back"].includes(d.status)
    ? h(
        "fieldset",
        {},
        h("legend", {}, "Roll back"),
        field("Target version (empty: previous deployed)", target),
        action(
          "Roll back",
          "deployer",
          async () => {
            const created = await api.post("deployments", `${path}/rollback${query({ target_version: target.value })}`);
            location.hash = `#/deployments/${created.id}`;
          },
          undefined,
          true,
        ),
      )
    : null;
  const link = (label: string, other: string | null) => (other ? h("li", {}, `${label}: `, h("a", { href: `#/deployments/${other}` }, other)) : null);
  // The deployment lists its runbooks by reference; their text comes from /v1/runbooks/{id}.
  const runbooks = await Promise.all(
    ((d.runbooks || []) as any[]).map((r) =>
      r.content !== undefined ? r : api.get("deployments", `/v1/runbooks/${encodeURIComponent(r.id)}`).catch(() => r),
    ),
  );
  return [
    h("p", {}, h("a", { href: "#/queue" }, "← Queue")),
    h("h1", {}, `${d.name} ${d.version}`),
    h(
      "dl",
      { class: "facts" },
      ...[
        ["Status", badge(d.status)],
        ["Approval", badge(d.approval_status || "not_required")],
        ["Environment", d.environment || "—"],
        ["Taxonomy", taxonomyKey(d)],
        ["Trigger", d.trigger],
        ["Commit", d.commit_sha || "—"],
        ["Created", when(d.created_at)],
        ["By", d.created_by_actor || "—"],
        ["Notes", d.notes || "—"],
      ].flatMap(([k, v]) => [h("dt", {}, k as string), h("dd", {}, v as any)]),
    ),
    h("ul", { class: "links" }, link("Copied from", d.source_deployment_id), link("Rolls back", d.rollback_from_deployment_id)),
    buttons.some(Boolean) ? h("div", { class: "actions" }, ...buttons) : null,
    approvalBox,
    rollbackBox,
    runbooks.length
      ? h("section", { class: "runbooks" }, h("h2", {}, "Runbooks"), runbooks.map((r) => h("article", {}, h("h3", {}, r.title), markdown(r.content || ""))))
      : null,
    h("h2", {}, "History"),
    history.length ? h("ol", { class: "history", reversed: true }, history.map(historyLine)) : h("p", { class: "note" }, "No audit entries yet (they follow within seconds)."),
  ];
}

// -- approvals -----------------------------------------------------------------------------

async function approvalsPage() {
  let items: any[];
  let degraded = false;
  try {
    const inbox = await api.get("deployments", "/v1/approvals");
    items = Array.isArray(inbox) ? inbox : inbox.items || inbox.approvals || [];
  } catch (e) {
    if (!(e instanceof ApiError && e.status === 404)) throw e;
    degraded = true;
    const scheduled: Dep[] = await api.get("deployments", `/v1/deployments${query({ status: "scheduled", limit: 1000 })}`);
    items = scheduled
      .filter((d) => d.approval_status === "pending")
      .map((d) => ({ kind: "deployment", id: d.id, environment: d.environment, name: d.name, version: d.version, created_by: d.created_by_actor, created_at: d.created_at, approvals: d.approvals || [] }));
  }
  const rows = items.map((item) => {
    const comment = h("input", { size: 18 }) as HTMLInputElement;
    const service = item.kind === "package_deployment" ? "packages" : "deployments";
    const path = item.kind === "package_deployment" ? `/v1/package-deployments/${item.id}` : `/v1/deployments/${item.id}`;
    // The inbox says who may approve; without it, roles from deployer up see the buttons.
    const allowed = typeof item.can_approve === "boolean" ? item.can_approve : api.can("deployer");
    const buttons = allowed
      ? [
          field("Comment", comment),
          action("Approve", "viewer", () => api.post(service, `${path}/approve`, comment.value ? { comment: comment.value } : {}), reload),
          action("Reject", "viewer", () => api.post(service, `${path}/reject`, { comment: comment.value }), reload, true),
        ]
      : [h("span", { class: "note" }, "you may not approve this one")];
    return [
      item.kind === "deployment" ? h("a", { href: `#/deployments/${item.id}` }, `${item.name} ${item.version || ""}`) : `${item.name} (package)`,
      item.environment || "—",
      item.created_by || "—",
      when(item.created_at),
      `${(item.approvals || []).length}${item.min_approvals ? ` of ${item.min_approvals}` : ""}`,
      h("span", { class: "row-actions" }, buttons),
    ];
  });
  return [
    h("h1", {}, "Approvals"),
    degraded ? h("p", { class: "note" }, "The approval inbox route is not deployed yet: showing queue deployments whose approval is pending.") : null,
    table(["Change", "Environment", "Requested by", "Created", "Approvals", "Decide"], rows, `${items.length} waiting`),
  ];
}

// -- canaries ------------------------------------------------------------------------------

async function canariesPage() {
  const canaries: any[] = await api.get("canary", "/v1/canaries");
  if (canaries.some((c) => c.status === "progressing")) refreshTimer = window.setTimeout(reload, 3000);
  return [
    h("h1", {}, "Canaries"),
    table(
      ["Service", "Revision", "Status", "Traffic", "Started", "Reason"],
      canaries.map((c) => [
        h("a", { href: `#/canaries/${c.id}` }, c.service),
        c.canary_revision,
        badge(c.status),
        `${c.traffic_percent}%`,
        when(c.started_at || c.created_at),
        c.reason || "—",
      ]),
    ),
  ];
}

function round(value: number | null | undefined, digits: number): string {
  return value === null || value === undefined ? "—" : String(Number(value.toFixed(digits)));
}

function stepsBar(c: any): HTMLElement {
  const steps: number[] = [...c.steps, 100];
  const reached = c.status === "promoted" ? steps.length : c.step;
  const fill = h("div", { class: `fill ${c.status}` });
  fill.style.width = `${c.traffic_percent}%`;
  return h(
    "div",
    { class: "steps" },
    h(
      "div",
      { class: "bar", role: "progressbar", "aria-valuemin": 0, "aria-valuemax": 100, "aria-valuenow": c.traffic_percent, "aria-label": "canary traffic" },
      fill,
    ),
    h(
      "ol",
      { class: "step-list" },
      steps.map((p, i) => {
        const stoppedHere = ["rolled_back", "aborted", "failed"].includes(c.status) && i + 1 === Math.max(c.step, 1);
        const done = i + 1 <= reached && !stoppedHere;
        const mark = stoppedHere ? "✕ " : done ? "✓ " : "";
        const label = `${mark}${p}%${i === steps.length - 1 ? " (promote)" : ""}${stoppedHere ? ` (${c.status.replace("_", " ")} here)` : ""}`;
        return h("li", { class: stoppedHere ? "stopped" : done ? "done" : "" }, label);
      }),
    ),
    h("p", {}, `Traffic to ${c.canary_revision}: ${c.traffic_percent}% · step ${c.step} of ${c.steps.length}`),
  );
}

async function canaryPage(id: string) {
  const c = await api.get("canary", `/v1/canaries/${encodeURIComponent(id)}`);
  const live = c.status === "progressing";
  if (live) refreshTimer = window.setTimeout(reload, 2000);
  const checks: any[] = c.checks || [];
  const xs = checks.map((k) => `#${k.number}`);
  const t = c.thresholds || {};
  const path = `/v1/canaries/${encodeURIComponent(id)}`;
  const open = c.status === "progressing" || c.status === "held";
  return [
    h("p", {}, h("a", { href: "#/canaries" }, "← Canaries")),
    h("h1", {}, `Canary of ${c.service}`),
    h("p", { class: "status-line" }, badge(c.status), ` ${c.canary_revision} against ${c.stable_revision} · ${c.strategy}`, live ? h("span", { class: "note" }, " · refreshing every 2 s") : null),
    c.reason ? h("p", { class: "reason", id: "reason" }, `Reason: ${c.reason}`) : null,
    c.deployment_id ? h("p", {}, "Deployment: ", h("a", { href: `#/deployments/${c.deployment_id}` }, c.deployment_id)) : null,
    stepsBar(c),
    open
      ? h(
          "div",
          { class: "actions" },
          action("Promote", "deployer", () => api.post("canary", `${path}/promote`), reload),
          action("Abort", "deployer", () => api.post("canary", `${path}/abort`), reload, true),
        )
      : null,
    h(
      "div",
      { class: "charts" },
      lineChart("Error rate (%)", xs, [
        { label: "canary", values: checks.map((k) => k.error_rate_pct), cls: "canary" },
        { label: "stable", values: checks.map((k) => k.stable?.error_rate_pct ?? null), cls: "stable", dash: true },
      ], t.max_error_rate_pct ?? null, "%"),
      lineChart("p95 latency (ms)", xs, [
        { label: "canary", values: checks.map((k) => k.p95_ms), cls: "canary" },
        { label: "stable", values: checks.map((k) => k.stable?.p95_ms ?? null), cls: "stable", dash: true },
      ], t.max_p95_ms ?? null, "ms"),
      lineChart("p99 latency (ms)", xs, [
        { label: "canary", values: checks.map((k) => k.p99_ms), cls: "canary" },
        { label: "stable", values: checks.map((k) => k.stable?.p99_ms ?? null), cls: "stable", dash: true },
      ], t.max_p99_ms ?? null, "ms"),
    ),
    table(
      ["#", "At", "Requests", "Errors %", "p95 ms", "p99 ms", "Verdict", "Reason", "Traffic after"],
      [...checks].reverse().map((k) => [k.number, when(k.at), k.request_count ?? "—", round(k.error_rate_pct, 2), round(k.p95_ms, 0), round(k.p99_ms, 0), badge(k.verdict), k.reason, `${k.traffic_percent}%`]),
      "Checks, newest first",
    ),
  ];
}

// -- DORA ----------------------------------------------------------------------------------

async function doraPage(params: URLSearchParams) {
  const days = params.get("days") || "30";
  const environment = params.get("environment") || "";
  const name = params.get("name") || "";
  const q = query({ days, environment, name });
  const [m, trends, byService, byEnv] = await Promise.all([
    api.get("deployments", `/v1/metrics/dora${q}`),
    api.get("deployments", `/v1/metrics/dora/trends${q}`),
    api.get("deployments", `/v1/metrics/dora/by-service${q}`),
    api.get("deployments", `/v1/metrics/dora/by-environment${q}`),
  ]);
  const daysSelect = h("select", { name: "days" }, ["7", "14", "30", "90", "365"].map((d) => h("option", { value: d, selected: d === days }, `${d} days`))) as HTMLSelectElement;
  const envInput = h("input", { value: environment, size: 10 }) as HTMLInputElement;
  const nameInput = h("input", { value: name, size: 10 }) as HTMLInputElement;
  const form = h(
    "form",
    { class: "filters", onsubmit: (e: Event) => { e.preventDefault(); location.hash = `#/dora${query({ days: daysSelect.value, environment: envInput.value, name: nameInput.value })}`; } },
    field("Window", daysSelect),
    field("Environment", envInput),
    field("Service", nameInput),
    h("button", { type: "submit" }, "Show"),
  );
  const cfr = m.change_failure_rate;
  const tile = (key: string, title: string, value: string, bucket: string | null, detail: string) =>
    h("div", { class: "tile", "data-key": key }, h("h2", {}, title), h("p", { class: "value" }, value), h("p", { class: "bucket" }, `Bucket: ${bucket ?? "no data"}`), h("p", { class: "note" }, detail));
  const rows = trends.trends as any[];
  const labels = rows.map((r) => r.date.slice(5));
  const group = (items: any[]) =>
    table(
      ["", "Deployments", "Per day", "Lead time", "Change failure rate", "Time to restore"],
      items.map((g) => [g.key ?? "—", g.deployment_frequency.deployments, g.deployment_frequency.per_day, duration(g.lead_time.median_seconds), g.change_failure_rate.rate === null ? "—" : `${Math.round(g.change_failure_rate.rate * 100)}%`, duration(g.time_to_restore.median_seconds)]),
    );
  const groupChart = (title: string, items: any[]) =>
    barChart(title, items.map((g) => String(g.key ?? "—")), [
      { label: "deployed", cls: "ok", values: items.map((g) => g.deployment_frequency.deployments - g.change_failure_rate.rolled_back) },
      { label: "rolled back", cls: "warn", values: items.map((g) => g.change_failure_rate.rolled_back) },
      { label: "failed", cls: "bad", values: items.map((g) => g.change_failure_rate.failed) },
    ]);
  return [
    h("h1", {}, "DORA four keys"),
    form,
    h(
      "div",
      { class: "tiles" },
      tile("deployment_frequency", "Deployment frequency", `${m.deployment_frequency.deployments} (${m.deployment_frequency.per_day}/day)`, m.deployment_frequency.bucket, `deployments in ${m.days} days`),
      tile("lead_time", "Lead time for changes", duration(m.lead_time.median_seconds), m.lead_time.bucket, "median, commit to deployed"),
      tile("change_failure_rate", "Change failure rate", cfr.rate === null ? "—" : `${Math.round(cfr.rate * 1000) / 10}%`, cfr.bucket, `${cfr.failed} failed, ${cfr.rolled_back} rolled back of ${cfr.finished} finished`),
      tile("time_to_restore", "Time to restore", duration(m.time_to_restore.median_seconds), m.time_to_restore.bucket, "median, failure to next deployed"),
    ),
    barChart("Per day: deployments and failures", labels, [
      { label: "deployed", cls: "ok", values: rows.map((r) => r.deployments - r.rolled_back) },
      { label: "rolled back", cls: "warn", values: rows.map((r) => r.rolled_back) },
      { label: "failed", cls: "bad", values: rows.map((r) => r.failed) },
    ]),
    h("h2", {}, "Per service"),
    groupChart("Per service: deployments and failures", byService),
    group(byService),
    h("h2", {}, "Per environment"),
    groupChart("Per environment: deployments and failures", byEnv),
    group(byEnv),
  ];
}

// -- audit log -----------------------------------------------------------------------------

const AUDIT_FILTERS = ["actor", "action", "resource_type", "resource_id", "from", "to"];

async function auditPage(params: URLSearchParams) {
  const filters: Record<string, string> = {};
  for (const k of AUDIT_FILTERS) filters[k] = params.get(k) || "";
  const token = params.get("page_token") || "";
  const response = await api.raw("deployments", `/v1/audit-logs${query({ ...filters, limit: 100, page_token: token })}`);
  const entries: any[] = await response.json();
  const next = response.headers.get("X-Next-Page-Token");
  const inputs = AUDIT_FILTERS.map((k) => h("input", { name: k, value: filters[k], size: 14, placeholder: k === "from" || k === "to" ? "2026-01-02T00:00:00Z" : "" }) as HTMLInputElement);
  const read = () => Object.fromEntries(inputs.map((i) => [i.name, i.value.trim()]));
  const status = h("span", { "aria-live": "polite" });
  const download = h("button", { type: "button" }, "Download CSV");
  download.addEventListener("click", async () => {
    try {
      const blob = await (await api.raw("deployments", `/v1/audit-logs/export.csv${query(read())}`)).blob();
      const a = h("a", { href: URL.createObjectURL(blob), download: `audit-${api.org}.csv` }) as HTMLAnchorElement;
      document.body.appendChild(a);
      a.click();
      a.remove();
      status.replaceChildren("CSV downloaded");
    } catch (e) {
      status.replaceChildren(notice(e instanceof Error ? e.message : String(e)));
    }
  });
  const form = h(
    "form",
    { class: "filters", onsubmit: (e: Event) => { e.preventDefault(); location.hash = `#/audit${query(read())}`; } },
    inputs.map((i) => field(i.name.replace("_", " "), i)),
    h("button", { type: "submit" }, "Filter"),
    download,
    status,
  );
  return [
    h("h1", {}, "Audit log"),
    form,
    table(
      ["Time", "Actor", "Action", "Resource", "IP", "User agent"],
      entries.map((e) => [
        when(e.time),
        e.actor || "—",
        e.action,
        e.resource_type === "deployment" ? h("a", { href: `#/deployments/${e.resource_id}` }, `${e.resource_type} ${e.resource_id}`) : `${e.resource_type} ${e.resource_id}`,
        e.ip || "—",
        e.user_agent || "—",
      ]),
      `${entries.length} entries`,
    ),
    next ? h("p", {}, h("a", { href: `#/audit${query({ ...filters, page_token: next })}` }, "Older entries →")) : null,
  ];
}

// -- runbooks ------------------------------------------------------------------------------

async function runbooksPage(params: URLSearchParams) {
  const q = params.get("q") || "";
  const runbooks: any[] = await api.get("deployments", `/v1/runbooks${query({ q })}`);
  const input = h("input", { type: "search", value: q, size: 24 }) as HTMLInputElement;
  return [
    h("h1", {}, "Runbooks"),
    h(
      "form",
      { class: "filters", role: "search", onsubmit: (e: Event) => { e.preventDefault(); location.hash = `#/runbooks${query({ q: input.value })}`; } },
      field("Search", input),
      h("button", { type: "submit" }, "Search"),
    ),
    runbooks.length
      ? runbooks.map((r) =>
          h(
            "details",
            { class: "runbook" },
            h("summary", {}, r.title, h("span", { class: "note" }, ` ${[r.service, r.environment, ...(r.tags || [])].filter(Boolean).join(" · ")}`)),
            markdown(r.content || ""),
          ),
        )
      : h("p", { class: "note" }, "No runbook matches."),
  ];
}

// -- packages ------------------------------------------------------------------------------

async function packagesPage() {
  const [packages, deployments] = await Promise.all([
    api.get("packages", "/v1/packages?limit=100"),
    api.get("packages", "/v1/package-deployments?limit=100"),
  ]);
  return [
    h("h1", {}, "Data packages"),
    table(
      ["Name", "Version", "Type", "Source", "Status", "Size", "Created"],
      (packages.packages as any[]).map((p) => [p.name, p.version, p.package_type, p.environment || "—", badge(p.status), p.size_bytes ?? "—", when(p.created_at)]),
      "Packages",
    ),
    h("h2", {}, "Package deployments"),
    table(
      ["Package", "Target", "Status", "Records", "When", ""],
      (deployments.deployments as any[]).map((d) => {
        const comment = h("input", { size: 14 }) as HTMLInputElement;
        return [
        d.package_name || d.package_id,
        d.environment || d.target_environment || "—",
        badge(d.status),
        d.records_succeeded ?? d.records_processed ?? "—",
        when(d.deployed_at || d.started_at || d.created_at),
        d.status === "awaiting_approval"
          ? h(
              "span",
              { class: "row-actions" },
              field("Comment", comment),
              action("Approve", "deployer", () => api.post("packages", `/v1/package-deployments/${d.id}/approve`, comment.value ? { comment: comment.value } : {}), reload),
              action("Reject", "deployer", () => api.post("packages", `/v1/package-deployments/${d.id}/reject`, { comment: comment.value }), reload, true),
            )
          : d.status === "completed" && !d.rolled_back_at
            ? action("Roll back", "deployer", () => api.post("packages", `/v1/package-deployments/${d.id}/rollback`), reload, true)
            : "",
        ];
      }),
      "Newest first",
    ),
  ];
}

// -- router --------------------------------------------------------------------------------

async function route() {
  window.clearTimeout(refreshTimer);
  refreshTimer = undefined;
  const serial = ++renderSerial;
  const [path, search] = location.hash.slice(1).split("?");
  const parts = path.split("/").filter(Boolean);
  const params = new URLSearchParams(search || "");
  header();
  let content: any[];
  try {
    switch (parts[0] || "queue") {
      case "deployments":
        content = await deploymentPage(parts[1]);
        break;
      case "approvals":
        content = await approvalsPage();
        break;
      case "canaries":
        content = parts[1] ? await canaryPage(parts[1]) : await canariesPage();
        break;
      case "dora":
        content = await doraPage(params);
        break;
      case "audit":
        content = await auditPage(params);
        break;
      case "runbooks":
        content = await runbooksPage(params);
        break;
      case "packages":
        content = await packagesPage();
        break;
      default:
        content = await queuePage(params);
    }
  } catch (e) {
    content = [h("h1", {}, "Could not load this page"), notice(e instanceof Error ? e.message : String(e))];
    if (e instanceof ApiError && e.status === 401 && cfg.auth_enabled) {
      // An expired or refused token: forget it so the header offers sign-in again.
      sessionStorage.removeItem("deployq.token");
      api.token = null;
      header();
      content.push(h("p", {}, "Sign in with Google to continue."));
    }
  }
  if (serial !== renderSerial) return; // a newer navigation won
  if (flash) content.unshift(notice(flash, "ok"));
  flash = null;
  const focused = document.activeElement && main.contains(document.activeElement);
  main.replaceChildren(...(content.flat(2) as (HTMLElement | null)[]).filter((c): c is HTMLElement => Boolean(c)));
  main.setAttribute("data-page", parts[0] || "queue");
  const heading = main.querySelector("h1");
  document.title = `${heading ? heading.textContent : "deployq"} · deployq ${api.org}`;
  main.setAttribute("aria-busy", "false");
  if (!performance.getEntriesByName("deployq:rendered").length) performance.mark("deployq:rendered");
  if (!focused && !refreshTimer) main.focus({ preventScroll: true });
}

async function start() {
  await Promise.all([api.loadMe().catch(() => undefined), api.discover()]);
  await route();
}

takeTokenFromFragment();
window.addEventListener("hashchange", () => void route());
void start();
