// The engine over the smallest DocumentStore (src/testing/MapDocumentStore.ts): the session
// rules, written once in SessionEngine, held to the conformance suite and to the spec.
import { SessionEngine } from "../../src/core/engine/SessionEngine.js";
import { describeStorageConformance } from "../../src/testing/index.js";
import { MapDocumentStore } from "../../src/testing/MapDocumentStore.js";
import { differentialTests } from "../support/differentialSeeds.js";

describeStorageConformance({
  name: "engine over a map",
  create: () => new SessionEngine(new MapDocumentStore()),
});

differentialTests("engine over a map", () => [
  { name: "engine over a map", create: () => new SessionEngine(new MapDocumentStore()) },
]);
