// The peer a Node user would pick instead of sessiond: Express + express-session with
// connect-redis, on the bench's redis-server, reading one session key per request.
// Env: BENCH_REDIS_URL, BENCH_SESSIONS (live sessions to create), BENCH_PREFIX.
import { createHmac } from "node:crypto";
import { RedisStore } from "connect-redis";
import express from "express";
import session from "express-session";
import { createClient } from "redis";
import { readKey, SAMPLES_PER_SHAPE, sessionData } from "./population.js";
import { announceReady } from "./readyLine.js";

const SECRET = "sessiond-bench-peer-secret";
const COOKIE = "connect.sid";
const url = process.env.BENCH_REDIS_URL ?? "";
const sessions = Number(process.env.BENCH_SESSIONS ?? "1000");
const prefix = process.env.BENCH_PREFIX ?? "peer:";
if (!url) throw new Error("BENCH_REDIS_URL is required");

const client = createClient({ url });
client.on("error", (err) => process.stderr.write(`redis: ${err}\n`));
await client.connect();
const store = new RedisStore({ client, prefix });

// express-session's signed cookie: "s:" + id + "." + base64(HMAC-SHA256(secret, id)) unpadded.
function signedCookie(id: string): string {
  const mac = createHmac("sha256", SECRET).update(id).digest("base64").replace(/=+$/, "");
  return `${COOKIE}=${encodeURIComponent(`s:${id}.${mac}`)}`;
}

const dayMs = 24 * 60 * 60 * 1000;
const key = readKey("small");
const samples: { cookie: string; expected: string }[] = [];
for (let start = 0; start < sessions; start += 1000) {
  const batch: Promise<void>[] = [];
  for (let i = start; i < Math.min(sessions, start + 1000); i++) {
    const id = `peer${i.toString(36).padStart(12, "0")}`;
    const data = sessionData(i, "small");
    const record = {
      cookie: {
        originalMaxAge: dayMs,
        expires: new Date(Date.now() + dayMs),
        httpOnly: true,
        path: "/",
      },
      ...data,
    };
    batch.push(
      new Promise((resolve, reject) =>
        store.set(id, record as unknown as session.SessionData, (err) =>
          err ? reject(err) : resolve(),
        ),
      ),
    );
    if (i < SAMPLES_PER_SHAPE)
      samples.push({ cookie: signedCookie(id), expected: String(data[key]) });
  }
  await Promise.all(batch);
}

const app = express();
app.use(
  session({
    store,
    secret: SECRET,
    name: COOKIE,
    resave: false,
    saveUninitialized: false,
    cookie: { maxAge: dayMs },
  }),
);
app.get("/", (req, res) => {
  const value = (req.session as unknown as Record<string, unknown>)[key];
  if (value === undefined) res.status(404).send("no session");
  else res.type("text/plain").send(String(value));
});
const server = app.listen(0, "127.0.0.1", () => {
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  announceReady({ port, pid: process.pid, samples });
});
process.on("SIGTERM", () => {
  server.close();
  server.closeAllConnections();
  void client.quit().finally(() => process.exit(0));
});
