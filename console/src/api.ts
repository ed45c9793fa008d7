// The deployq HTTP APIs as the console calls them: the same routes as the CLI, no other path.

export type Config = {
  deployments: string;
  packages: string | null;
  canary: string | null;
  auth_enabled: boolean;
  client_id: string | null;
  organisations: string[];
};

export type Me = { kind?: string; organisation?: string; actor?: string; role?: string | null };

export class ApiError extends Error {
  constructor(
    public status: number,
    message: string,
    public code: string = "",
  ) {
    super(message);
  }
}

const ROLES = ["viewer", "deployer", "approver", "admin"];

export class Client {
  org: string;
  token: string | null;
  me: Me = {};
  /** False until `GET /v1/me` answered: buttons then show and the API's 403 decides. */
  roleKnown = false;

  constructor(public cfg: Config) {
    this.org = localStorage.getItem("deployq.org") || cfg.organisations[0] || "acme";
    this.token = sessionStorage.getItem("deployq.token");
  }

  setOrg(org: string) {
    this.org = org;
    localStorage.setItem("deployq.org", org);
  }

  /** Whether the signed-in person may use a route needing `role` (unknown role: yes). */
  can(role: string): boolean {
    if (!this.roleKnown || !this.me.role) return true;
    return ROLES.indexOf(this.me.role) >= ROLES.indexOf(role);
  }

  base(service: "deployments" | "packages" | "canary"): string {
    const url = this.cfg[service];
    if (!url) throw new ApiError(0, `the ${service} API's address is not configured`);
    return url.replace(/\/$/, "");
  }

  headers(extra: Record<string, string> = {}): Record<string, string> {
    const h: Record<string, string> = { "X-Organisation": this.org, ...extra };
    if (this.token) h["Authorization"] = `Bearer ${this.token}`;
    return h;
  }

  async raw(
    service: "deployments" | "packages" | "canary",
    path: string,
    init: { method?: string; body?: unknown } = {},
  ): Promise<Response> {
    const headers = this.headers(init.body !== undefined ? { "Content-Type": "application/json" } : {});
    let response: Response;
    try {
      response = await fetch(this.base(service) + path, {
        method: init.method || "GET",
        headers,
        body: init.body !== undefined ? JSON.stringify(init.body) : undefined,
      });
    } catch {
      throw new ApiError(0, `the ${service} API cannot be reached`);
    }
    if (!response.ok) {
      let message = `${response.status} ${response.statusText}`;
      let code = "";
      try {
        const body = await response.json();
        if (body && body.error) message = body.error;
        code = body.code || "";
      } catch {
        /* not JSON: keep the status line */
      }
      throw new ApiError(response.status, message, code);
    }
    return response;
  }

  async get<T = any>(service: "deployments" | "packages" | "canary", path: string): Promise<T> {
    return (await this.raw(service, path)).json();
  }

  async post<T = any>(
    service: "deployments" | "packages" | "canary",
    path: string,
    body?: unknown,
    method = "POST",
  ): Promise<T> {
    const response = await this.raw(service, path, { method, body });
    return response.status === 204 ? (null as T) : response.json();
  }

  /** `GET /v1/me`; a 404 (route not deployed yet) leaves the role unknown. */
  async loadMe(): Promise<void> {
    try {
      this.me = await this.get("deployments", "/v1/me");
      this.roleKnown = true;
    } catch (e) {
      this.me = {};
      this.roleKnown = false;
      if (e instanceof ApiError && e.status !== 404) throw e;
    }
  }

  /** Fill in the packages and canary URLs from `GET /v1/discovery` when not configured. */
  async discover(): Promise<void> {
    if (this.cfg.packages && this.cfg.canary) return;
    try {
      const found = await this.get("deployments", "/v1/discovery");
      this.cfg.packages = this.cfg.packages || found.packages;
      this.cfg.canary = this.cfg.canary || found.canary;
    } catch {
      /* older deployments function: keep what the config gives */
    }
  }
}

export function query(params: Record<string, string | number | null | undefined>): string {
  const parts = Object.entries(params)
    .filter(([, v]) => v !== null && v !== undefined && v !== "")
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`);
  return parts.length ? `?${parts.join("&")}` : "";
}
