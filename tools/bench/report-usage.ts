/**
 * Preloaded by the benchmarks (`node -r`): at exit, writes the process's peak memory (max
 * RSS, kB) as one line `BENCH_MAX_RSS_KB=<n>` on stderr, which the benchmark reads.
 */
import * as fs from "fs";

process.on("exit", () => {
  fs.writeSync(2, `\nBENCH_MAX_RSS_KB=${process.resourceUsage().maxRSS}\n`);
});
