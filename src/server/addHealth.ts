import type { Server, ServerWritableStream, ServiceDefinition } from "@grpc/grpc-js";
import { HealthImplementation, type ServingStatusMap } from "grpc-health-check";

export interface ServedHealth {
  health: HealthImplementation;
  /** Ends every open Watch stream (after its last status went out). */
  endWatches(): void;
}

type Handler = (call: ServerWritableStream<unknown, unknown>) => void;

/**
 * Adds grpc.health.v1.Health (grpc-health-check) to `server`, keeping track of open Watch
 * streams. A Watch never ends by itself, so without this a single watching load balancer
 * would hold a graceful shutdown for the whole grace period.
 */
export function addHealth(server: Server, initial: ServingStatusMap): ServedHealth {
  const health = new HealthImplementation(initial);
  const watches = new Set<ServerWritableStream<unknown, unknown>>();
  const registrar = {
    addService(definition: ServiceDefinition, implementation: Record<string, Handler>) {
      const watch = implementation.watch as Handler;
      server.addService(definition, {
        ...implementation,
        watch(call: ServerWritableStream<unknown, unknown>) {
          watches.add(call);
          call.on("cancelled", () => watches.delete(call));
          watch(call);
        },
      });
    },
  };
  health.addToServer(registrar as unknown as Parameters<HealthImplementation["addToServer"]>[0]);
  return {
    health,
    endWatches() {
      for (const call of watches) call.end();
      watches.clear();
    },
  };
}
