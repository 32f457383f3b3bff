import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Registry } from "prom-client";

export interface MetricsEndpoint {
  /** The bound port (the real one when asked for 0). */
  port: number;
  close(): Promise<void>;
}

/**
 * GET /metrics in Prometheus' text format, over plain HTTP; every other path is 404. It
 * has no authentication: metrics hold no session ids, but bind it where only the
 * scraper reaches (the default host is loopback).
 */
export function serveMetrics(
  registry: Registry,
  host: string,
  port: number,
): Promise<MetricsEndpoint> {
  const server = createServer((req, res) => {
    const path = (req.url ?? "").split("?")[0];
    if (path !== "/metrics") {
      res
        .writeHead(404, { "content-type": "text/plain; charset=utf-8" })
        .end("not found: try GET /metrics\n");
      return;
    }
    if (req.method !== "GET" && req.method !== "HEAD") {
      res
        .writeHead(405, { allow: "GET, HEAD", "content-type": "text/plain; charset=utf-8" })
        .end("method not allowed\n");
      return;
    }
    registry.metrics().then(
      (text) => {
        res
          .writeHead(200, { "content-type": registry.contentType })
          .end(req.method === "HEAD" ? undefined : text);
      },
      (err: unknown) => {
        res
          .writeHead(500, { "content-type": "text/plain; charset=utf-8" })
          .end(`collecting metrics failed: ${err instanceof Error ? err.message : String(err)}\n`);
      },
    );
  });
  return new Promise((resolve, reject) => {
    server.once("error", (err) => reject(listenError(err, host, port)));
    server.listen({ host, port }, () => {
      resolve({ port: (server.address() as AddressInfo).port, close: () => close(server) });
    });
  });
}

function listenError(err: Error, host: string, port: number): Error {
  return new Error(
    `SESSIOND_METRICS_PORT (--metrics-port): cannot listen on ${host}:${port}: ${err.message}`,
    { cause: err },
  );
}

function close(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    // A scraper's keep-alive connection would hold close() open until it times out.
    server.closeAllConnections();
  });
}
