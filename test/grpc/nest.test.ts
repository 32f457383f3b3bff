// The README's NestJS recipe, run: a real NestJS gRPC microservice (Transport.GRPC) on
// 127.0.0.1 whose grpc-js Server gets sessionInterceptor through channelOptions, called
// over a real channel. The module is test/support/nest/shop.ts.
import "reflect-metadata";
import assert from "node:assert/strict";
import { createServer } from "node:net";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { type Client, credentials, loadPackageDefinition, status } from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";
import type { INestMicroservice } from "@nestjs/common";
import { NestFactory } from "@nestjs/core";
import { type MicroserviceOptions, Transport } from "@nestjs/microservices";
import { silentLogger } from "../../src/core/Logger.js";
import { MemoryStorage } from "../../src/core/memory/MemoryStorage.js";
import { Manager } from "../../src/core/session/Manager.js";
import { sessionInterceptor } from "../../src/grpc/sessionInterceptor.js";
import { GrpcStatusFilter, ShopModule } from "../support/nest/shop.js";
import { failed, ok, rawCall, returnedId } from "../support/serviceRawCall.js";

const PROTO = fileURLToPath(new URL("../support/nest/shop.proto", import.meta.url));
const ID_PATTERN = /^[0-9a-z]{32}$/;

/** Nest binds the url it is given and does not say which port 0 became; ask the OS first. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const address = probe.address();
      probe.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });
}

describe("sessiond in a NestJS gRPC microservice", () => {
  const storage = new MemoryStorage();
  const manager = new Manager({ storage, logger: silentLogger });
  let app: INestMicroservice;
  let client: Client;

  before(async () => {
    const url = `127.0.0.1:${await freePort()}`;
    app = await NestFactory.createMicroservice<MicroserviceOptions>(ShopModule, {
      transport: Transport.GRPC,
      options: {
        package: "test.nest",
        protoPath: PROTO,
        url,
        // Nest passes channelOptions to `new grpc.Server(...)`, which takes interceptors.
        channelOptions: { interceptors: [sessionInterceptor(manager)] },
      },
      logger: false,
    });
    app.useGlobalFilters(new GrpcStatusFilter());
    await app.listen();
    const pkg = loadPackageDefinition(loadSync(PROTO)) as unknown as {
      test: { nest: { Shop: new (address: string, creds: unknown) => Client } };
    };
    client = new pkg.test.nest.Shop(url, credentials.createInsecure());
  });

  after(async () => {
    client?.close();
    await app?.close();
    await manager.close();
    await storage.close();
  });

  it("a write gets a new id in the headers; the next call with it sees the same session", async () => {
    const first = await rawCall<{ items: string[] }>(client, "AddToCart", { item: "apple" });
    assert.deepEqual(ok(first).items, ["apple"]);
    const id = String(first.headers?.get("x-session-id")[0]);
    assert.match(id, ID_PATTERN, "the new id rides in the response headers");
    const stored = await storage.read(id, { ttlMs: 60_000 });
    assert.deepEqual(stored?.data, { cart: ["apple"] }, "committed before the reply left");

    const second = await rawCall<{ items: string[] }>(
      client,
      "AddToCart",
      { item: "pear" },
      { id },
    );
    assert.deepEqual(ok(second).items, ["apple", "pear"], "the same session");
    assert.equal(returnedId(second), undefined, "a known session needs no new id");
    const cart = await rawCall<{ items: string[] }>(client, "Cart", {}, { id });
    assert.deepEqual(ok(cart).items, ["apple", "pear"]);
  });

  it("a malformed id is INVALID_ARGUMENT before Nest runs the handler", async () => {
    failed(
      await rawCall(client, "Cart", {}, { id: "../../etc/passwd" }),
      status.INVALID_ARGUMENT,
      /malformed session id/,
    );
  });

  it("a SessionError thrown in a handler is its own status through the filter", async () => {
    failed(
      await rawCall(client, "Checkout", {}),
      status.FAILED_PRECONDITION,
      /^the cart is empty$/,
    );
  });
});
