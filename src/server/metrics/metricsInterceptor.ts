import { ServerInterceptingCall, type ServerInterceptor, status } from "@grpc/grpc-js";
import type { Counter, Histogram } from "prom-client";

export interface GrpcMetrics {
  grpcHandled: Counter<"service" | "method" | "code">;
  grpcHandling: Histogram<"service" | "method">;
}

/**
 * Counts every call by its status code and times it, from its request headers to its
 * status. Placed right after the transport guard, so that calls the caller check refuses
 * are counted too. grpc-js ends some calls below every interceptor (its own deadline, a
 * request too large): those are seen only as cancelled, and counted as DEADLINE_EXCEEDED
 * when the deadline has passed, else CANCELLED.
 */
export function metricsInterceptor(metrics: GrpcMetrics): ServerInterceptor {
  return (method, call) => {
    const slash = method.path.lastIndexOf("/");
    const labels = { service: method.path.slice(1, slash), method: method.path.slice(slash + 1) };
    const started = performance.now();
    let ended = false;
    const end = (code: string): void => {
      if (ended) return;
      ended = true;
      metrics.grpcHandled.inc({ ...labels, code });
      metrics.grpcHandling.observe(labels, (performance.now() - started) / 1000);
    };
    return new ServerInterceptingCall(call, {
      start(next) {
        next({
          // grpc-js calls this after every status too; by then end() has run.
          onCancel() {
            const deadline = call.getDeadline();
            const at = deadline instanceof Date ? deadline.getTime() : deadline;
            end(Number.isFinite(at) && Date.now() >= at ? "DEADLINE_EXCEEDED" : "CANCELLED");
          },
        });
      },
      sendStatus(st, next) {
        end(status[st.code] ?? String(st.code));
        next(st);
      },
    });
  };
}
