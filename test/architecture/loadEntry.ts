// Run as `node --import tsx loadEntry.ts <module>`: imports the module and prints, as JSON,
// the path of every file that import loaded: the ES modules (seen by module hooks) and the
// CommonJS ones they pulled in (seen in require's cache, which no hook sees on Node 20).
import { createRequire, register } from "node:module";
import { fileURLToPath, pathToFileURL } from "node:url";
import { MessageChannel } from "node:worker_threads";

const target = process.argv[2];
if (target === undefined) throw new Error("usage: loadEntry.ts <module path>");

const { port1, port2 } = new MessageChannel();
const loaded = new Set<string>();
// Messages on one port arrive in order: once this one is back, every earlier one is too.
const LAST = "data:text/javascript,export{}";
const allReported = new Promise<void>((resolve) => {
  port1.on("message", (url: string) => {
    if (url === LAST) resolve();
    else if (url.startsWith("file:")) loaded.add(fileURLToPath(url));
  });
});
register("./recordLoads.mjs", import.meta.url, { data: { port: port2 }, transferList: [port2] });

await import(pathToFileURL(target).href);
await import(LAST);
await allReported;
port1.close();
for (const path of Object.keys(createRequire(import.meta.url).cache)) loaded.add(path);
process.stdout.write(`${JSON.stringify([...loaded].sort())}\n`);
