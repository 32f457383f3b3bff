/**
 * npm run fuzz -- [--count N] [--seed S] [--storage memory,file,redis,redis-hash]
 *                 [--only-case I] [--time 60s] [--max-failures N]
 * Longer fuzz runs than the bounded one in npm test (test/fuzz.test.ts). Prints the seed
 * first; every failure prints its seed, case and a one-line reproduction. Exit 1 on failure.
 */
import { STORAGES, type StorageKind } from "./FuzzTarget.js";
import { formatReport, fuzzStorage } from "./runFuzz.js";

interface Args {
  count: number;
  seed: number;
  storages: StorageKind[];
  onlyCase?: number;
  budgetMs?: number;
  maxFailures: number;
  trace: boolean;
  rpcs?: string[];
}

function parseArgs(argv: string[]): Args {
  const args: Args = {
    count: 1000,
    seed: Date.now() % 2 ** 31,
    storages: [...STORAGES],
    maxFailures: 20,
    trace: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = (argv[i] as string).split("=", 2) as [string, string | undefined];
    const value = (): string => inline ?? argv[++i] ?? usage(`${flag} needs a value`);
    switch (flag) {
      case "--count":
        args.count = positive(flag, value());
        break;
      case "--seed":
        args.seed = positive(flag, value(), true);
        break;
      case "--only-case":
        args.onlyCase = positive(flag, value(), true);
        break;
      case "--rpc":
        args.rpcs = value().split(",");
        break;
      case "--trace":
        args.trace = true;
        break;
      case "--max-failures":
        args.maxFailures = positive(flag, value());
        break;
      case "--time": {
        const text = value();
        const m = /^(\d+)(ms|s|m)?$/.exec(text);
        if (!m) usage(`--time: expected 500ms, 60s or 5m, got ${text}`);
        args.budgetMs = Number(m[1]) * ({ ms: 1, s: 1000, m: 60_000 }[m[2] ?? "s"] as number);
        break;
      }
      case "--storage": {
        const names = value().split(",");
        for (const n of names) {
          if (!(STORAGES as readonly string[]).includes(n))
            usage(`--storage: unknown storage ${n}`);
        }
        args.storages = names as StorageKind[];
        break;
      }
      default:
        usage(`unknown argument ${flag}`);
    }
  }
  return args;
}

function positive(flag: string, text: string, zeroOk = false): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < (zeroOk ? 0 : 1))
    usage(`${flag}: expected a whole number, got ${text}`);
  return n;
}

function usage(message: string): never {
  process.stderr.write(
    `fuzz: ${message}\nusage: npm run fuzz -- [--count N] [--seed S] [--storage ${STORAGES.join(",")}] [--only-case I] [--time 60s] [--max-failures N] [--trace] [--rpc Set,Remove,race,socket]\n`,
  );
  process.exit(2);
}

const args = parseArgs(process.argv.slice(2));
const what =
  args.onlyCase === undefined ? `${args.count} cases per storage` : `case ${args.onlyCase}`;
console.log(`fuzz: seed=${args.seed}, ${what}, storages ${args.storages.join(", ")}`);
let failed = 0;
for (const storage of args.storages) {
  const report = await fuzzStorage(storage, {
    seed: args.seed,
    count: args.count,
    onlyCase: args.onlyCase,
    budgetMs: args.budgetMs,
    maxFailures: args.maxFailures,
    trace: args.trace,
    rpcs: args.rpcs,
    log: (line) => console.log(line),
  });
  console.log(formatReport(report));
  failed += report.failures.length;
}
console.log(
  failed === 0
    ? `fuzz: seed=${args.seed}: no failures`
    : `fuzz: seed=${args.seed}: ${failed} failing cases`,
);
process.exit(failed === 0 ? 0 : 1);
