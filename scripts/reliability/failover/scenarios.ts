import type { FaultKind, TopologyKind } from "./topologies.js";

export type RedisStorageKind = "redis" | "redis-hash";

/**
 * One fail-over run: a Redis set-up, one fault under load, and what must hold after it.
 * Every storage runs at once against the same set-up (its own sessiond instances, writers
 * and ledger, and its own key prefix), so one fault is measured on each.
 */
export interface Scenario {
  /** Names the group on the command line (--failover cluster-failover,...). */
  group: ScenarioGroup;
  title: string;
  storages: readonly RedisStorageKind[];
  topology: TopologyKind;
  fault: FaultKind;
  /** Flags for every sessiond instance. */
  sessiondArgs: string[];
  /**
   * Lost acknowledged writes (and the stale reads that follow from them) are the point
   * of this run: reported, not a failure (the contrast to waiting for replicas).
   */
  lossExpected?: boolean;
  /** Every call must succeed (a reshard moves data; nothing is down). */
  noFailedCalls?: boolean;
}

export const SCENARIO_GROUPS = [
  "cluster-failover",
  "replica-lag",
  "sentinel-failover",
  "reshard",
  "sigstop",
] as const;
export type ScenarioGroup = (typeof SCENARIO_GROUPS)[number];

export interface ScenarioSettings {
  storages: readonly RedisStorageKind[];
  waitTimeout: string;
}

export function scenarios(groups: readonly ScenarioGroup[], s: ScenarioSettings): Scenario[] {
  const out: Scenario[] = [];
  const storages = s.storages;
  const each = (group: ScenarioGroup, make: () => Scenario) => {
    if (groups.includes(group)) out.push(make());
  };
  each("cluster-failover", () => ({
    group: "cluster-failover",
    title: "Cluster 3+3: SIGKILL of a master",
    storages,
    topology: "cluster",
    fault: "kill-master",
    sessiondArgs: [],
  }));
  if (groups.includes("replica-lag")) {
    out.push({
      group: "replica-lag",
      title: "Cluster 3+3: replica lag, then SIGKILL of its master, no waiting (contrast)",
      storages,
      topology: "cluster",
      fault: "lag-then-kill",
      sessiondArgs: [],
      lossExpected: true,
    });
    out.push({
      group: "replica-lag",
      title: `Cluster 3+3: replica lag, then SIGKILL of its master, --redis-wait-replicas 1`,
      storages,
      topology: "cluster",
      fault: "lag-then-kill",
      sessiondArgs: ["--redis-wait-replicas", "1", "--redis-wait-timeout", s.waitTimeout],
    });
  }
  each("sentinel-failover", () => ({
    group: "sentinel-failover",
    title: "Sentinel 1+2, 3 Sentinels: SIGKILL of the master",
    storages,
    topology: "sentinel",
    fault: "kill-master",
    sessiondArgs: [],
  }));
  each("reshard", () => ({
    group: "reshard",
    title: "Cluster 3+3: reshard of 3000 slots, then rebalance",
    storages,
    topology: "cluster",
    fault: "reshard",
    sessiondArgs: [],
    noFailedCalls: true,
  }));
  each("sigstop", () => ({
    group: "sigstop",
    title: "Single node: SIGSTOP, then SIGCONT",
    storages,
    topology: "single",
    fault: "sigstop",
    sessiondArgs: [],
  }));
  return out;
}
