// Copies the page and its stylesheet next to the bundle esbuild wrote (functions/console/static).
import { copyFileSync, mkdirSync } from "node:fs";

const out = "../functions/console/static";
mkdirSync(out, { recursive: true });
copyFileSync("src/index.html", `${out}/index.html`);
copyFileSync("src/style.css", `${out}/app.css`);
